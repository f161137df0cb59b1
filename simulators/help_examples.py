"""The examples every ``device-sim`` command shows at the end of its ``--help``."""

EXAMPLES = {
    "": """
        device-sim profiles
        device-sim modbus --device energy_meter_3ph@15020 --device energy_meter_3ph@15021
    """,
    "profiles": """
        device-sim profiles      # 设备型号库 the profile library
    """,
    "modbus": """
        device-sim modbus --profile energy_meter_3ph --port 15020
        device-sim modbus --profile energy_meter_3ph --port 15020 --control-port 15999   # 可注入故障 faults
    """,
    "opcua": """
        device-sim opcua --profile filling_line --port 4840
    """,
    "serve": """
        device-sim serve --device energy_meter_3ph@15020 --device filling_line@4840
    """,
}
