"""The examples every ``edge-agent`` command shows at the end of its ``--help``."""

EXAMPLES = {
    "": """
        edge-agent check --config /etc/shopfloor/gateway.yaml     # 先检查 check first
        edge-agent run --config /etc/shopfloor/gateway.yaml
    """,
    "check": """
        edge-agent check --config examples/gateway.yaml   # 配置、设备、代理逐项检查 config, devices, broker
    """,
    "run": """
        edge-agent run --config examples/gateway.yaml     # 前台运行, Ctrl-C 停止 runs in the foreground
    """,
    "status": """
        edge-agent status --config examples/gateway.yaml          # 缓存深度、计数 buffer depth, counters
        edge-agent status --config examples/gateway.yaml --json   # 给脚本用 for scripts
    """,
    "discover": """
        edge-agent discover "modbus://192.168.1.20:502?unit=1" --table holding --count 200 --out meter.yaml
        edge-agent discover opc.tcp://192.168.1.30:4840 --depth 4 --filter Line1 --out filler.yaml
    """,
    "trust-cert": """
        edge-agent trust-cert var/pki/rejected/plc.der    # 信任 OPC UA 服务器证书 trust a server
    """,
}
