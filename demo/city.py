"""The sample pilot city: one enterprise in each of the six pilot industries of Hohhot's plan.

Each enterprise has its own gateway and 5-6 devices from the industry profiles in the library
(Modbus TCP and OPC UA, 32 devices in all), and an equipment inventory that also lists
production devices no gateway reads, so that networking rates differ and land in different
MIIT bands. The names are invented. Faults are given per enterprise in `faults.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class Device:
    id: str
    profile: str
    name: str            # what the inventory calls it (Chinese)
    workshop: str
    line: str
    key_process: bool = False

    @property
    def protocol(self) -> str:
        return "opcua" if self.profile in OPCUA_PROFILES else "modbus"


@dataclass(frozen=True, kw_only=True)
class Unnetworked:
    """A production device in the inventory that no gateway reads (it still counts)."""

    code: str
    name: str
    type: str
    workshop: str
    line: str = ""
    key_process: bool = False
    digital: bool = False  # digitally capable (设备数字化率), though not networked


@dataclass(frozen=True, kw_only=True)
class Enterprise:
    id: str
    name: str
    industry: str          # the gateway config's industry key
    industry_zh: str
    district: str
    gateway: str
    devices: tuple[Device, ...]
    unnetworked: tuple[Unnetworked, ...] = field(default=())

    @property
    def inventory_size(self) -> int:
        return len(self.devices) + len(self.unnetworked)


OPCUA_PROFILES = frozenset({"cnc_machine", "dyeing_machine", "extrusion_line", "fermenter_controller",
                            "filling_line", "press_line"})


def _idle(prefix: str, n: int, *, name: str, type: str, workshop: str, digital_every: int = 0
          ) -> tuple[Unnetworked, ...]:
    return tuple(Unnetworked(code=f"{prefix}-{i:02d}", name=f"{name}{i}号", type=type, workshop=workshop,
                             digital=bool(digital_every) and i % digital_every == 0)
                 for i in range(1, n + 1))


CITY: tuple[Enterprise, ...] = (
    Enterprise(
        id="qc-dairy", name="青城乳品有限公司", industry="food", industry_zh="特色食品加工",
        district="赛罕区", gateway="gw-dairy-01",
        devices=(
            Device(id="filler-01", profile="filling_line", name="无菌灌装线", workshop="灌装车间",
                   line="1号线", key_process=True),
            Device(id="retort-01", profile="retort_temp_controller", name="杀菌釜温控1号",
                   workshop="杀菌车间", line="1号线", key_process=True),
            Device(id="retort-02", profile="retort_temp_controller", name="杀菌釜温控2号",
                   workshop="杀菌车间", line="2号线", key_process=True),
            Device(id="scale-01", profile="weighing_indicator", name="成品称重仪", workshop="包装车间",
                   line="1号线"),
            Device(id="meter-fill", profile="energy_meter_3ph", name="灌装车间电能表",
                   workshop="灌装车间", line="1号线"),
            Device(id="meter-ster", profile="energy_meter_3ph", name="杀菌车间电能表",
                   workshop="杀菌车间", line="1号线"),
        ),
        unnetworked=_idle("pack", 2, name="手工封箱机", type="封箱机", workshop="包装车间"),
    ),
    Enterprise(
        id="sb-cashmere", name="塞北绒纺有限公司", industry="textiles", industry_zh="纺织服装加工",
        district="玉泉区", gateway="gw-cashmere-01",
        devices=(
            Device(id="loom-01", profile="loom_drive_vfd", name="剑杆织机1号", workshop="织造车间",
                   line="A线", key_process=True),
            Device(id="loom-02", profile="loom_drive_vfd", name="剑杆织机2号", workshop="织造车间",
                   line="A线", key_process=True),
            Device(id="loom-03", profile="loom_drive_vfd", name="剑杆织机3号", workshop="织造车间",
                   line="B线"),
            Device(id="dyer-01", profile="dyeing_machine", name="溢流染色机", workshop="染整车间",
                   line="1号线", key_process=True),
            Device(id="meter-weave", profile="energy_meter_3ph", name="织造车间电能表",
                   workshop="织造车间", line="A线"),
        ),
        unnetworked=_idle("spin", 5, name="老式细纱机", type="细纱机", workshop="纺纱车间",
                          digital_every=5),
    ),
    Enterprise(
        id="jh-biopharma", name="金河生物制药有限公司", industry="biopharma", industry_zh="生物医药制造",
        district="托克托县", gateway="gw-biopharma-01",
        devices=(
            Device(id="ferm-01", profile="fermenter_controller", name="发酵罐1号", workshop="发酵车间",
                   line="1号线", key_process=True),
            Device(id="ferm-02", profile="fermenter_controller", name="发酵罐2号", workshop="发酵车间",
                   line="2号线", key_process=True),
            Device(id="ph-01", profile="bioreactor_ph_sensor", name="在线pH计", workshop="发酵车间",
                   line="1号线"),
            Device(id="do-01", profile="bioreactor_do_sensor", name="溶氧仪", workshop="发酵车间",
                   line="1号线"),
            Device(id="meter-ferm", profile="energy_meter_3ph", name="发酵车间电能表",
                   workshop="发酵车间", line="1号线"),
        ),
        unnetworked=_idle("cent", 1, name="离心机", type="离心机", workshop="提取车间", digital_every=1),
    ),
    Enterprise(
        id="cy-agrimach", name="草原农牧机械有限公司", industry="equipment",
        industry_zh="农牧/矿山专用设备制造", district="土默特左旗", gateway="gw-agrimach-01",
        devices=(
            Device(id="cnc-01", profile="cnc_machine", name="立式加工中心1号", workshop="机加车间",
                   line="1号线", key_process=True),
            Device(id="cnc-02", profile="cnc_machine", name="立式加工中心2号", workshop="机加车间",
                   line="1号线"),
            Device(id="press-01", profile="press_line", name="液压机", workshop="冲压车间",
                   line="1号线", key_process=True),
            Device(id="conv-01", profile="conveyor_vfd", name="装配输送线", workshop="总装车间",
                   line="1号线"),
            Device(id="meter-mach", profile="energy_meter_3ph", name="机加车间电能表",
                   workshop="机加车间", line="1号线"),
        ),
        unnetworked=(*_idle("lathe", 6, name="普通车床", type="车床", workshop="机加车间", digital_every=3),
                     *_idle("weld", 3, name="手工焊机", type="焊机", workshop="焊接车间")),
    ),
    Enterprise(
        id="clc-materials", name="敕勒川新材料有限公司", industry="new_materials",
        industry_zh="新材料制造", district="和林格尔县", gateway="gw-materials-01",
        devices=(
            Device(id="extr-01", profile="extrusion_line", name="双螺杆挤出线", workshop="挤出车间",
                   line="1号线", key_process=True),
            Device(id="zone-01", profile="extruder_zone_controller", name="挤出机温区控制1号",
                   workshop="挤出车间", line="1号线", key_process=True),
            Device(id="zone-02", profile="extruder_zone_controller", name="挤出机温区控制2号",
                   workshop="挤出车间", line="2号线"),
            Device(id="scale-02", profile="weighing_indicator", name="配料秤", workshop="配料车间",
                   line="1号线"),
            Device(id="meter-extr", profile="energy_meter_3ph", name="挤出车间电能表",
                   workshop="挤出车间", line="1号线"),
            Device(id="meter-mix", profile="energy_meter_3ph", name="配料车间电能表",
                   workshop="配料车间", line="1号线"),
        ),
        unnetworked=_idle("mix", 2, name="高速混合机", type="混合机", workshop="配料车间"),
    ),
    Enterprise(
        id="dqs-steel", name="大青山钢结构有限公司", industry="metal_products",
        industry_zh="结构性金属制品制造", district="新城区", gateway="gw-steel-01",
        devices=(
            Device(id="press-02", profile="press_line", name="折弯机", workshop="成型车间",
                   line="1号线", key_process=True),
            Device(id="cnc-03", profile="cnc_machine", name="数控切割机", workshop="下料车间",
                   line="1号线", key_process=True),
            Device(id="conv-02", profile="conveyor_vfd", name="抛丸输送线", workshop="涂装车间",
                   line="1号线"),
            Device(id="meter-cut", profile="energy_meter_3ph", name="下料车间电能表",
                   workshop="下料车间", line="1号线"),
            Device(id="meter-form", profile="energy_meter_3ph", name="成型车间电能表",
                   workshop="成型车间", line="1号线"),
        ),
        unnetworked=(*_idle("drill", 10, name="摇臂钻床", type="钻床", workshop="下料车间", digital_every=4),
                     *_idle("weld", 10, name="二保焊机", type="焊机", workshop="焊接车间"),
                     *_idle("crane", 3, name="桥式起重机", type="起重机", workshop="成型车间")),
    ),
)
