"""A custody report as PDF (fpdf2): the sample, each signed step, and its ledger proof.

Issue 5 §5: "a report can be exported as a PDF with its ledger proof". The PDF carries, for each
step, the fields, the actor's Ed25519 signature (base64) and whether it verified, and for each row
the ledger entry that covers it: seq, canonical body, previous hash and hash — enough for anyone to
recompute ``hash = SHA-256(prev_hash ‖ SHA-256(body))`` — and, once a signed checkpoint covers the
entry, the RFC 6962 audit path to the checkpoint's entries root with the platform's signature.

Chinese text needs a CJK font: the first of :data:`CJK_FONTS` that exists is embedded (Debian
``fonts-wqy-microhei`` or ``fonts-noto-cjk``); ``TIANLAN_CJK_FONT`` names another file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tianlan.errors import ConfigError
from tianlan.ledger.custody import STEP_LABELS
from tianlan.model.timeutil import utc_iso, utc_to_beijing_iso

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)
#: characters WenQuanYi Micro Hei maps to an empty glyph, written the way it can draw them
_PLAIN = str.maketrans({"℃": "°C", "℉": "°F"})
FIELD_LABELS = {
    "place": "采样地点 / place", "container": "容器 / container", "preservation": "保存方式 / preservation",
    "analytes": "项目 / analytes", "holding_h": "保存时限 h / holding time", "from": "移交人 / from",
    "to": "接收人 / to", "condition": "交接状态 / condition", "method": "方法 / method",
    "instrument": "仪器 / instrument", "standard_lot": "标准物质批号 / standard lot", "results": "结果 / results",
    "reviewer": "审核人 / reviewer", "report_no": "报告编号 / report no.",
}


def cjk_font() -> Path:
    """The CJK font file to embed; ConfigError naming TIANLAN_CJK_FONT when none is found."""
    env = os.environ.get("TIANLAN_CJK_FONT")
    for f in ([env] if env else []) + list(CJK_FONTS):
        if f and Path(f).is_file():
            return Path(f)
    raise ConfigError("TIANLAN_CJK_FONT: no CJK font found (install Debian fonts-wqy-microhei or fonts-noto-cjk, "
                      "or point TIANLAN_CJK_FONT at a .ttf/.ttc) / 未找到中文字体")


def render(sample: Any, proofs: Sequence[dict[str, Any]], *, generated_utc: float) -> bytes:
    """The PDF bytes for ``sample`` (a :class:`tianlan.store.custody_repo.Sample` with verified
    signatures) and ``proofs`` (sample row first, then one per step)."""
    from fpdf import FPDF
    from fpdf.enums import WrapMode, XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("cjk", "", str(cjk_font()))
    pdf.add_page()
    w = pdf.epw

    def line(text: str, size: float = 10, h: float = 5.5) -> None:
        pdf.set_font("cjk", size=size)
        pdf.multi_cell(w, h, text.translate(_PLAIN), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def mono(text: str) -> None:  # hashes and bodies: small, wrapped anywhere
        pdf.set_font("cjk", size=7)
        pdf.multi_cell(w, 3.6, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT, wrapmode=WrapMode.CHAR)

    line("样品流转记录（监管链）/ Chain-of-custody record", 15, 8)
    line(f"样品编号 / sample: {sample.code}    采样单位 / organisation: {sample.owner_scope}"
         + (f"    站点 / site: {sample.site_code}" if sample.site_code else ""))
    line(f"生成时间 / generated: {utc_to_beijing_iso(generated_utc)} (北京时间 / Beijing time)")
    pdf.ln(2)
    for i, st in enumerate(sample.steps):
        ok = sample.signature_ok[i] if i < len(sample.signature_ok) else False
        line(f"{st.seq}. {STEP_LABELS[st.step]} — {utc_to_beijing_iso(st.time_utc)}  操作人 / by {st.actor}  "
             f"签名 / signature: {'有效 / valid' if ok else '无效 / INVALID'}", 11, 6.5)
        for k, v in st.details.items():
            line(f"    {FIELD_LABELS.get(k, k)}: {v}")
        mono(f"Ed25519 signature (base64): {sample.signatures[i]}")
        pdf.ln(1.5)
    pdf.add_page()
    line("账本证明 / Ledger proof", 13, 7)
    line("每条记录的账本条目：hash = SHA-256(prev_hash ‖ SHA-256(body))；若已有签名检查点，另附 RFC 6962 "
         "审计路径与平台签名。/ Each row's ledger entry: hash = SHA-256(prev_hash ‖ SHA-256(body)); once a signed "
         "checkpoint covers it, the RFC 6962 audit path to its entries root and the platform's signature.", 9, 4.6)
    for p in proofs:
        e = p.get("entry")
        pdf.ln(1.5)
        line(f"{p['table']} #{p['id']}", 10, 5.5)
        if e is None:
            line("    无账本条目 / NO LEDGER ENTRY", 10)
            continue
        line(f"    seq {e['seq']} · {e['kind']} · {e['actor']} · {utc_iso(e['time_utc'])}", 9, 4.8)
        mono(f"body: {e['body']}")
        mono(f"row_digest: {e['row_digest']}\nprev_hash: {e['prev_hash']}\nhash: {e['hash']}")
        cp = p.get("checkpoint")
        if cp:
            mono(f"checkpoint seq {cp['first_seq']}..{cp['seq']} entries_root {cp['entries_root']} leaf index "
                 f"{cp['index']} of {cp['size']}\naudit path: {json.dumps(cp['path'])}\nkey {cp['key_id']} "
                 f"public_key {cp['public_key']}\nsignature {cp['signature']}\nmessage {cp['message']}")
        else:
            line("    尚无签名检查点覆盖 / not yet covered by a signed checkpoint (`tianlan ledger checkpoint`)", 8, 4.5)
    return bytes(pdf.output())
