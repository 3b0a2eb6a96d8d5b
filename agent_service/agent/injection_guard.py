"""A customer telling the agent which stage to set is not evidence of a milestone (LLM01).

The tools already refuse protected stages, backwards moves and other contacts; this refuses the
remaining case, where the quoted evidence is itself an instruction ("mark me as Hot Lead", "set
all leads lost"), so a talked-into model cannot move a lead on the customer's say-so.
"""

from __future__ import annotations

import re

from agent_service.qualification.fields import fold
from agent_service.workspaces.config import WorkspaceConfig

# Command verbs, as folded text (lower case, Vietnamese accents off): English, Vietnamese
# ("chuyển", "đổi", "đánh dấu", "cập nhật", "xếp", "nâng"), Malay ("tukar", "tandakan", ...).
_COMMANDS = (
    r"mark|set|move|put|change|update|make|promote|upgrade|classify|label|tag|flag|hand|assign|"
    r"transfer|give|"
    r"chuyen|doi|danh dau|cap nhat|xep|nang|ghi nhan|"
    r"tukar|ubah|tandakan|tanda|letak|pindah|pindahkan|kemas kini|naikkan|jadikan"
)
_STAGE_WORDS = (
    r"stage|status|leads?|lost|customers?|qualified|pipeline|"
    r"trang thai|giai doan|"
    r"peringkat|tahap"
)
# Thai is written without spaces between words: a verb, then a stage within a few characters.
_THAI_COMMANDS = r"เปลี่ยน|ย้าย|ตั้ง|ทำเครื่องหมาย|อัปเดต|อัพเดท|อัพเดต|ปรับ|ใส่|จัด"
_THAI_STAGE_WORDS = r"สถานะ|ขั้น|ลูกค้า"
STAGE_TOOLS = frozenset({"update_lifecycle_stage", "mark_lead_lost"})


def is_stage_instruction(evidence: str, config: WorkspaceConfig) -> bool:
    """True when a command verb is followed closely by a stage word or a stage's name."""
    folded = fold(evidence)
    names = "|".join(re.escape(fold(s.name)) for s in config.lifecycle.stages)
    targets = f"{_STAGE_WORDS}|{names}" if names else _STAGE_WORDS
    # Words are what spaces separate: an id such as "ct_01.victim" is one word, not four.
    pattern = rf"\b({_COMMANDS})\b(?:\s+\S+){{0,5}}?\s+\W*({targets})\b"
    if re.search(pattern, folded):
        return True
    # Thai keeps its marks (folding strips tone marks and vowel signs the words need).
    raw_names = "|".join(re.escape(s.name.lower()) for s in config.lifecycle.stages)
    thai_targets = f"{_THAI_STAGE_WORDS}|{raw_names}" if raw_names else _THAI_STAGE_WORDS
    thai = rf"({_THAI_COMMANDS}).{{0,40}}?({thai_targets})"
    return re.search(thai, evidence.lower()) is not None


def evidence_refusal(tool: str, evidence: str, config: WorkspaceConfig) -> str | None:
    """Why a stage tool's evidence cannot justify it, or None when it may proceed."""
    if tool not in STAGE_TOOLS:
        return None
    if is_stage_instruction(evidence, config):
        return "the customer asking for a stage is not evidence of the milestone"
    if tool == "mark_lead_lost" and evidence.strip().endswith("?"):
        return "a question is not evidence that the lead is lost"
    return None
