"""The examples every ``cloud-ingest`` command shows at the end of its ``--help``."""

EXAMPLES = {
    "": """
        cloud-ingest migrate --config examples/cloud.yaml
        cloud-ingest serve --config examples/cloud.yaml
    """,
    "migrate": """
        cloud-ingest migrate --config examples/cloud.yaml     # 可重复执行 safe to run again
    """,
    "serve": """
        cloud-ingest serve --config examples/cloud.yaml          # 入库+API+仪表盘 ingest, API, dashboard
        cloud-ingest serve --config examples/cloud.yaml --no-api # 只入库 ingest only
    """,
    "status": """
        cloud-ingest status --config examples/cloud.yaml
    """,
    "evidence": """
        cloud-ingest evidence figures -e ent-a --from 2026-01-01 --to 2026-02-01
    """,
    "evidence figures": """
        cloud-ingest evidence figures -e ent-a --from 2026-01-01 --to 2026-02-01
        cloud-ingest evidence figures -e ent-a --from 2026-01-01 --to 2026-01-02 --json > figures.json
    """,
    "evidence build": """
        cloud-ingest evidence build --enterprise ent-a --from 2026-01-01 --to 2026-02-01 --out pkg-2026-01
    """,
    "evidence verify": """
        cloud-ingest evidence verify pkg-2026-01
        cloud-ingest evidence verify pkg-2026-02 --previous pkg-2026-01   # 链未断 no package left out
    """,
    "gateways": """
        cloud-ingest gateways register --gateway gw-01 --enterprise ent-a
    """,
    "gateways register": """
        cloud-ingest gateways register --gateway gw-01 --enterprise ent-a --note "安装单 install order 42"
    """,
    "gateways list": """
        cloud-ingest gateways list
        cloud-ingest gateways list --unbound     # 未登记的网关 gateways nobody bound yet
    """,
    "gateways move": """
        cloud-ingest gateways move gw-01 --to ent-b --note "设备转让 device sold"
    """,
    "gateways acl": """
        cloud-ingest gateways acl --ingest-user ingest > /etc/mosquitto/shopfloor.acl
    """,
    "inventory": """
        cloud-ingest inventory template --out 设备台账.csv
        cloud-ingest inventory import -e ent-a 设备台账.csv
    """,
    "inventory template": """
        cloud-ingest inventory template --out 设备台账.csv
        cloud-ingest inventory template --xlsx --out 设备台账.xlsx
    """,
    "inventory import": """
        cloud-ingest inventory import -e ent-a 设备台账.xlsx
        cloud-ingest inventory import -e ent-a 设备台账.csv --partial    # 保留正确的行 keep the good rows
    """,
    "inventory show": """
        cloud-ingest inventory show -e ent-a
    """,
    "keys": """
        cloud-ingest keys init --config examples/cloud.yaml
    """,
    "keys init": """
        cloud-ingest keys init --config examples/cloud.yaml     # 一次 once; 文件权限 0600
    """,
    "keys show": """
        cloud-ingest keys show --config examples/cloud.yaml     # 公钥和指纹 public key, fingerprint
    """,
    "keys rotate": """
        cloud-ingest keys rotate --config examples/cloud.yaml   # 旧公钥保留 old keys stay listed
    """,
    "tokens": """
        cloud-ingest tokens create --role reviewer --name 验收专家 --expires 30d
    """,
    "tokens create": """
        cloud-ingest tokens create --role reviewer --name 验收专家 --expires 30d
        cloud-ingest tokens create --role enterprise --enterprise ent-a --name 企业管理员
    """,
    "tokens list": """
        cloud-ingest tokens list
    """,
    "tokens revoke": """
        cloud-ingest tokens revoke 7     # 编号见 tokens list; the id tokens list shows
    """,
    "tokens import": """
        cloud-ingest tokens import --config examples/cloud.yaml   # tokens_file 入库 into the database
    """,
}
