"""Words that rule a lost mark out, whatever the message resembles.

Intent detection by similarity reads "too expensive, any discount?", "let me think",
"no, I meant the facial" and "I tried another clinic before, how are you different?" as
rejections: they share the words of one. A lost lead is not followed up and skews every
funnel report, so a wrong mark costs more than a missed one (docs/evals.md). These cues are
closed word classes of the four languages served (question words and particles, hesitation
and deferral, corrections, stories of earlier providers, negated idioms), written from the
languages' grammar and checked on evals/datasets/intents/dev.yaml only.
"""

from __future__ import annotations

import re

from agent_service.qualification.fields import fold


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_B = r"(?<![\w])"  # a word starts here (Latin scripts)
_E = r"(?![\w])"

# A question asks for something: it keeps the conversation going.
_QUESTION = _any(
    r"\?",
    # English: wh-words and auxiliaries that open a question
    _B + r"(how|what|when|where|which|why|who|whats|hows|is there|are there|do you|does it|"
    r"can i|can you|could you|could i|would you|will you|any (discount|promo|cheaper|offer))" + _E,
    # Vietnamese: question words, and the sentence-final particles of yes/no questions
    # ("a" ends questions and polite statements alike once accents are gone: not a cue)
    _B + r"(bao nhieu|bnh|may|o dau|khi nao|bao gio|the nao|nhu the nao|tai sao|"
    r"vi sao|gi|j|nao|co .{1,40} (khong|ko|k|hong|hok|chua))" + _E,
    # ... and their chat spellings: "nhiu tien" (how much), "bn tien", "bao tien"
    _B + r"(nhiu|nhieu tien|bn tien|bao tien|mnhieu|bnhieu|nhiu tien)" + _E,
    _B + r"(khong|ko|k|hong|hok|chua|nhi|sao|chi|j)\W*$",
    # Thai: question particles and words
    r"ไหม|มั้ย|มั๊ย|หรือเปล่า|หรือป่าว|ป่าว|เท่าไหร่|เท่าไร|ยังไง|อย่างไร|อะไร|ที่ไหน|"
    r"เมื่อไหร่|เมื่อไร|กี่|หรอ|เหรอ|มีไหม|ได้ไหม|ไง\s*$",
    # Malay: question words and particles
    _B + r"(berapa|brp|brapa|bila|bile|mana|apa|apakah|kenapa|camne|macam mana|mcm mana|"
    r"boleh ke|blh ke|ada tak|ada x|ke|kah|tak\s*$)" + _E,
)

# Hesitation and deferral: not now is not never.
_HESITATION = _any(
    _B + r"(think|thinking|consider|later|next (week|month|year|time)|maybe|not now|not yet|"
    r"ask my|check with|discuss|talk to my|get back|let me see|busy|sometime|after)" + _E,
    _B + r"(suy nghi|nghi them|nghi da|de sau|sau nha|thang sau|tuan sau|nam sau|chua|hoi "
    r"(chong|vo|me|bo|ba|sep|ban)|ban voi|tham khao|xem da|xem them|tinh sau|luc khac|khi khac|"
    r"bua khac|dip khac)" + _E,
    r"คิดดู|ขอคิด|คิดก่อน|ไว้ก่อน|ไว้คราวหน้า|คราวหน้า|เดือนหน้า|อาทิตย์หน้า|สัปดาห์หน้า|ปีหน้า|"
    r"ปรึกษา|ถามแฟน|ถามสามี|ถามภรรยา|ถามแม่|ถามพ่อ|ยังไม่|ทีหลัง|วันหลัง|ไว้ก่อน|ขอดูก่อน",
    _B + r"(fikir|nanti|lain kali|bulan depan|minggu depan|tahun depan|tanya (suami|isteri|"
    r"mak|ayah|bos)|bincang|belum|blm|tengok dulu|dulu)" + _E,
)

# An objection bargains: "too expensive, any discount?".
_BARGAIN = _any(
    _B + r"(discount|cheaper|installment|instalment|price match|lower price|nego)" + _E,
    _B + r"(giam gia|bot|tra gop|re hon)" + _E,
    r"ลดราคา|ลดได้|ส่วนลด|ถูกกว่า|ผ่อน|ต่อรอง",
    _B + r"(diskaun|diskon|lebih murah|ansuran|kurang sikit|nego)" + _E,
)

# A correction points at what was meant.
_CORRECTION = _any(
    _B + r"(i meant|i mean|meant|not that|wrong one)" + _E,
    _B + r"(y (minh|em|toi|la|tui|anh|chi)|khong phai|ko phai|k phai)" + _E,
    r"หมายถึง|ไม่ใช่",
    _B + r"(maksud|bukan (itu|yang))" + _E,
)

# A story about an earlier provider is history, not a decision against this one.
_HISTORY = _any(
    _B + r"(before|last (year|month|time)|used to|tried|previously|in the past|ago)" + _E,
    _B + r"(truoc day|hoi truoc|lan truoc|nam ngoai|nam truoc|tung|da tung|thu roi)" + _E,
    r"เคย|ปีที่แล้ว|ปีก่อน|ครั้งก่อน|เมื่อก่อน",
    _B + r"(pernah|dulu|tahun lepas|sebelum ni|sebelum ini|dahulu)" + _E,
)

# Negative words that mean yes: "no problem", "không sao", "ไม่เป็นไร", "tak kisah".
_AGREEABLE = _any(
    _B + r"(no problem|no worries|don't mind|dont mind|not a problem|no prob)" + _E,
    _B + r"(khong sao|ko sao|k sao|khong van de|duoc het|ok het)" + _E,
    r"ไม่เป็นไร|ไม่มีปัญหา|ได้หมด",
    _B + r"(tak (kisah|apa|pe|kesah)|tiada masalah|takpe|xpe|x kisah)" + _E,
)


def lost_mark_ruled_out(text: str, intent: str) -> bool:
    """Whether ``text`` cannot justify marking the lead lost as ``intent``."""
    folded = fold(text)  # lower case, Vietnamese accents off (typed either way), Thai kept
    if _AGREEABLE.search(folded) or _CORRECTION.search(folded):
        return True
    if intent == "spam":
        return False  # spam asks questions too ("want to earn RM500 a day?")
    if _QUESTION.search(folded) or _HESITATION.search(folded) or _BARGAIN.search(folded):
        return True
    return intent == "not_interested" and _HISTORY.search(folded) is not None
