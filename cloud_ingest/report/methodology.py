"""The definitions the report's methodology section prints, one row per figure, Chinese then
English: what is counted, the formula, and whether it is time- or event-weighted. They follow
the figures' definitions (docs/evidence.md); ``METHODOLOGY_NOTE`` says where the full text is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Definition:
    zh: str
    en: str
    formula: str
    weighting: str
    zh_text: str
    en_text: str


DEFINITIONS: tuple[Definition, ...] = (
    Definition(zh="设备联网率", en="Device networking rate",
               formula="本时段上报了有效（good）数据的生产设备数 ÷ 台账中的生产设备数",
               weighting="按设备计 per device",
               zh_text="分母是台账中全部生产设备，包括没有接入任何网关的设备；无台账时不计算，而不是按 100% 计。",
               en_text="Production devices that delivered good data in the window ÷ all production devices in "
                       "the inventory, networked or not. Without an inventory it is not computed (never 100%)."),
    Definition(zh="设备数字化率", en="Device digitalization rate", formula="台账中具备数字化能力的生产设备数 ÷ 生产设备数",
               weighting="按设备计 per device", zh_text="取自设备台账中“具备数字化能力”一栏。",
               en_text="Digitally capable production devices ÷ production devices, from the inventory."),
    Definition(zh="关键工序数据采集率", en="Key-process data collection rate",
               formula="数据完整的关键工序设备数 ÷ 关键工序设备数",
               weighting="按设备计 per device",
               zh_text="2024 版指标没有官方公式，此为本平台的定义：关键工序设备在本时段的完整性达到阈值即计为数据完整。",
               en_text="The 2024 indicators give no formula; ours: key-process devices whose completeness in "
                       "the window reaches the threshold ÷ key-process devices."),
    Definition(zh="完整性", en="Completeness", formula="收到的样本数 ÷ 按采样周期应收到的样本数（上限 100%）",
               weighting="按样本计 event-weighted",
               zh_text="按变化上报的点位以心跳周期计应收数，变化样本和心跳都计入；延迟送达的样本计入完整性，但标为延迟。",
               en_text="Samples received ÷ samples expected from each tag's interval (at most 100%). For "
                       "report-by-exception tags the heartbeat sets the expectation; late samples count, shown as late."),
    Definition(zh="在线率", en="Online ratio", formula="设备（网关）在线时长 ÷ 时段长度",
               weighting="按时间计 time-weighted",
               zh_text="与 OPC UA 第 13 部分 PercentGood、PI 的 PctGood（时间加权）同类。",
               en_text="Time online ÷ window length, like OPC UA Part 13 PercentGood and PI's time-weighted PctGood."),
    Definition(zh="延迟", en="Latency", formula="入库时间 − 设备源时间，分为设备→网关、网关→云、云→入库",
               weighting="按样本计 event-weighted",
               zh_text="给出 p50/p95/p99/最大值。网关时钟偏差由网关发送时间与云端接收时间估计；偏差明显时延迟按偏差校正并在报告中标注。",
               en_text="Stored time − source time, split device→gateway, gateway→cloud, cloud→stored; "
                       "p50/p95/p99/max. A gateway clock offset is estimated from its send time against the "
                       "cloud's receive time; when it is significant latency is corrected and flagged."),
    Definition(zh="缺口及原因", en="Gaps and causes",
               formula="应有数据而没有收到（或迟到）的时段，原因：设备离线、网关离线、延迟送达、网关丢弃、网关超负荷、被拒收、原因不明",
               weighting="按时间计 time-weighted",
               zh_text="延迟送达（网关缓存后补传）计入完整性，只标为延迟；其余原因都是数据缺失。",
               en_text="Stretches where data was due but missing (or late). delivered_late data was buffered and "
                       "arrived later: it counts for completeness. All other causes are missing data."),
    Definition(zh="丢失对账", en="Loss reconciliation",
               formula="未解释 = 网关读取数 − 网关按原因丢弃数 − 云端入库数",
               weighting="按样本计 event-weighted",
               zh_text="网关自己的累计计数器与云端入库数逐网关、逐设备核对；健康系统中“未解释”为 0。",
               en_text="The gateway's own counters against what the cloud stored, per gateway and device; "
                       "unexplained = read − dropped (by reason) − stored, 0 in a healthy system."),
    Definition(zh="业务环节覆盖", en="Business-link coverage",
               formula="本时段有自动采集数据的业务环节数 ÷ 14",
               weighting="按环节计 per link",
               zh_text="每个点位在设备模型中标明它服务的业务环节（工信部 2024 版 14 个环节）。",
               en_text="Links (of the MIIT list of 14) with automatically collected data in the window; each "
                       "tag names the links it serves in its device profile."),
)

METHODOLOGY_NOTE = ("完整的定义、公式和算例见产品文档 docs/evidence.md；本包 data/ 中的 CSV 可以复算报告中的数字。"
                    " The full definitions with formulas and worked examples are in docs/evidence.md; the CSVs in "
                    "data/ recompute the report's figures.")

LIMITS: tuple[tuple[str, str], ...] = (
    ("签名证明本包由持有该签名私钥的平台生成，并且生成之后没有任何文件被改动。",
     "The signature proves the package was produced by the holder of the signing key and that no file changed since."),
    ("签名不能证明设备（PLC、仪表）上报的数值本身是真实的：它只证明平台如实计算、记录了收到的数据。",
     "It does not prove that the values devices (PLCs, meters) reported are true: only that the platform "
     "computed and recorded what it received faithfully."),
    ("证据日志（Merkle 树）让删除或替换本企业以前的证据包可以被发现：保存上一个包或其检查点即可核对。",
     "The evidence log (a Merkle tree) makes a deleted or replaced earlier package of this enterprise detectable: "
     "keep the previous package or its checkpoint to check."),
    ("若平台向不同的人出示不同的日志（分叉），只有双方都保存并比对检查点时才能发现；请企业和评审方各自保存检查点。",
     "A log shown differently to different parties (a fork) is caught only if both keep and compare checkpoints: "
     "the enterprise and the reviewer should each keep theirs."),
    ("生成时间由平台时钟给出，没有第三方时间戳；签名密钥的安全依赖平台的密钥保管。",
     "The generation time comes from the platform's clock, not a third-party time-stamp; the signature is only as "
     "safe as the platform's custody of its key."),
)
