"""README.txt of a package: how to verify it, in Chinese then English, for a reviewer on a
Windows laptop with no network and no copy of our product."""

from __future__ import annotations


def readme_text(*, enterprise: str, sequence: int, fingerprint: str) -> str:
    return f"""数据贯通证据包 Data-connectivity evidence package
企业 Enterprise: {enterprise}    序号 Sequence: {sequence}
签名公钥指纹 Signing key fingerprint (SHA-256):
  {fingerprint}

一、包里有什么
  report/report.pdf, report/report.html  报告（中文在前，英文在后），可直接打开，无需联网
  data/                                   报告中所有数字的原始表格（CSV，可用 Excel 打开）及 figures.json
  evidence.dsse.json                      签名信封：列出包内每个文件的 SHA-256 摘要，并由上述密钥签名
  log/                                    本企业证据日志（Merkle 树）的签名检查点、包含证明、一致性证明和全部证据包链
  keys/                                   签名公钥、指纹和历次密钥轮换记录
  verify_package.py                       离线校验程序

二、如何校验（不需要联网，不需要本平台）
  1. 安装 Python 3.11 或更新版本（python.org），然后在命令行执行：
       python -m pip install cryptography
  2. 在本文件夹所在目录执行：
       python verify_package.py .
     如已从企业或平台方另行取得公钥文件，请加 --key 公钥文件；否则请核对上面的指纹。
  3. 如保存过本企业上一个证据包，加 --previous 上一个包的文件夹，可检查序号与链接，发现被删除或替换的包。
  4. 如保存过早先的检查点（log/checkpoint.txt），加 --checkpoint 该文件，可证明日志只增不改。
  结果最后一行为“校验通过 VERIFIED”即全部通过；否则逐条列出失败的文件和原因。

三、签名能证明什么，不能证明什么
  签名证明：本包由持有该私钥的平台生成，生成后没有任何文件被改动；日志证明同一企业的证据包没有被删除或替换。
  签名不能证明：设备（PLC、仪表）上报的数值本身是真实的；它只证明平台如实计算和记录了收到的数据。
  若平台向不同的人出示不同的日志（分叉），只有当双方都保存并比对检查点时才能发现：请企业和评审方各自保存检查点。

1. What is inside
  report/report.pdf, report/report.html  the report (Chinese first, English beside it); opens offline
  data/                                   every figure of the report as CSV tables (open in Excel) and figures.json
  evidence.dsse.json                      the signed envelope: the SHA-256 of every file, signed by the key above
  log/                                    the enterprise's evidence log (a Merkle tree): signed checkpoint,
                                          inclusion proof, consistency proofs and the chain of all its packages
  keys/                                   the public key, its fingerprint, and the record of key rotations
  verify_package.py                       the offline verifier

2. How to verify (no network, no need for our platform)
  1. Install Python 3.11 or newer (python.org), then run:  python -m pip install cryptography
  2. In this folder run:  python verify_package.py .
     If you received the public key separately, add --key FILE; otherwise compare the fingerprint above.
  3. With the enterprise's previous package, add --previous DIR: the sequence and link are checked, so a
     deleted or replaced package shows.
  4. With a checkpoint you kept (an earlier log/checkpoint.txt), add --checkpoint FILE: it proves the log only grew.
  The last line says VERIFIED when everything passed; otherwise each failing file and check is listed.

3. What the signature proves, and what it does not
  It proves that the package was produced by the holder of the key and that no file changed since; the
  log proves that no package of this enterprise was deleted or replaced.
  It does not prove that the values the devices (PLCs, meters) reported are true: only that the platform
  computed and recorded what it received faithfully.
  A log shown differently to different people (a fork) is caught only when both keep and compare
  checkpoints: the enterprise and the reviewer should each keep theirs.
"""
