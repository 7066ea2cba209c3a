"""The letters in English."""

from __future__ import annotations

import datetime

from ..data import Authority
from ..model import Block, Context, Indented, Items
from . import shared

SUBJECT = "Subject:"
SALUTATION = "Dear Sir or Madam,"
CLOSING = "Yours faithfully,"
BY_EMAIL = "By e-mail:"

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(day: datetime.date) -> str:
    """``1 December 2026``."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def subject(ctx: Context) -> str:
    return {
        "access": "Request for access to my personal data (Article 15 GDPR)",
        "erasure": "Request for erasure of my personal data (Article 17 GDPR)",
        "objection": "Objection to the processing of my personal data (Article 21 GDPR)",
        "complaint": f"Complaint under Article 77 GDPR against {ctx.company.name}",
    }[ctx.kind]


def body(ctx: Context) -> list[Block]:
    return _BODIES[ctx.kind](ctx)


def enclosures(ctx: Context) -> str:
    if ctx.kind == "complaint":
        parts = ["a copy of my request to the company and proof that it was sent"]
        if ctx.options.reply != "none":
            parts.append("a copy of the company's answer")
        return "Enclosures: " + "; ".join(parts)
    return "Enclosure: one photo of my face (everything else blacked out)" if ctx.options.photo else ""


_BIOMETRIC = (
    "Photos of my face are personal data. Templates computed from them to recognise faces "
    '("face fingerprints", embeddings) are biometric data (Article 4(14) GDPR), whose processing '
    "for the purpose of identifying a person is prohibited unless an exception of Article 9(2) GDPR "
    "applies (Article 9(1) GDPR)."
)


def _scope(ctx: Context) -> list[Block]:
    outside = shared.no_eu_establishment(ctx.company)
    applies = (
        "the GDPR applies to this processing under Article 3(2)(b) GDPR, because you monitor the "
        "behaviour of people in the Union, among them me, by collecting photos of their faces and "
        "making them searchable."
    )
    if outside is None:
        return [f"Should you have no establishment in the European Union, {applies}"]
    if outside:
        return [f"As far as I know, you have no establishment in the European Union. Nevertheless, {applies}"]
    return []


def _finish(ctx: Context) -> list[Block]:
    """The paragraphs every request ends with: photo, identity, deadline, where to answer."""
    blocks: list[Block] = [*_scope(ctx)]
    if ctx.options.photo:
        blocks.append(
            "So that you can find the data, I enclose one photo of my face; everything else in it is "
            "blacked out. Use it only to answer this request and delete it afterwards (Article 5(1)(b), "
            "(c) and (e) GDPR); do not add it to your search index."
        )
    else:
        blocks.append(
            "I do not enclose a photo of myself. If you cannot find the data without one, tell me so "
            "within the period below; I will then send one photo of my face, for this request only."
        )
    blocks.append(
        "I do not enclose a copy of an identity document. It is not needed to find the data, and you "
        "may ask for additional information only if you have reasonable doubts about my identity, and "
        "only as much as is necessary to confirm it (Article 12(6) GDPR)."
    )
    blocks.append(
        "Please answer within one month of receipt of this request (Article 12(3) GDPR). That period "
        "may be extended by two further months only where necessary, taking into account the "
        "complexity and number of requests, and you must tell me of any extension, with the reasons, "
        "within the first month. Your answer is free of charge (Article 12(5) GDPR). If I receive no "
        "answer within one month, I will lodge a complaint with a supervisory authority (Article 77 GDPR)."
    )
    blocks.append(_answer_to(ctx))
    if ctx.company.letter_note is not None:
        blocks.append(ctx.company.letter_note("en"))
    return blocks


def _answer_to(ctx: Context) -> str:
    email, postal = ctx.sender.email, bool(ctx.sender.address)
    if email and postal:
        return f"Please answer by e-mail to {email} or by post to my address above."
    if email:
        return f"Please answer by e-mail to {email}."
    return "Please answer by post to my address above."


def _access(ctx: Context) -> list[Block]:
    return [
        "Under Article 15 GDPR, I ask you to confirm whether you process personal data concerning me "
        "and, if so, to give me access to them. This includes photos of my face that you have "
        "collected or received, the web addresses where you found them, and all biometric data "
        "derived from them.",
        _BIOMETRIC,
        "In particular, please give me:",
        Items(
            (
                "a copy of all personal data concerning me (Article 15(3) GDPR): every photo, the web "
                "address (URL) where it was found and when, and the biometric data derived from it;",
                "the purposes of the processing and its legal basis, including the exception of "
                "Article 9(2) GDPR on which you rely for biometric data;",
                "the recipients or categories of recipients to whom the data have been or will be "
                "disclosed, in particular customers who searched for my face, and recipients in "
                "third countries together with the safeguards for the transfer (Article 15(2) GDPR);",
                "the period for which the data will be stored or, if that is not possible, the "
                "criteria used to determine it;",
                "the source of the data (Article 15(1)(g) GDPR);",
                "whether automated decision-making, including profiling, takes place, and meaningful "
                "information about the logic involved (Article 15(1)(h) GDPR).",
            )
        ),
        *_finish(ctx),
    ]


def _erasure(ctx: Context) -> list[Block]:
    return [
        "Under Article 17(1) GDPR, I ask you to erase without undue delay all personal data "
        "concerning me: every photo of my face that you hold, the web addresses and other data "
        "linked to them, and all biometric data derived from them (face templates, "
        '"face fingerprints", embeddings).',
        "The grounds of Article 17(1)(c) and (d) GDPR apply. I object to the processing (Article "
        "21(1) GDPR) and there are no overriding legitimate grounds for it; and the data are "
        "processed unlawfully. Biometric data may not be processed to identify a person unless an "
        "exception of Article 9(2) GDPR applies (Article 9(1) GDPR). I have not given my explicit "
        "consent (Article 9(2)(a) GDPR), and photos of me on the internet do not mean that I have "
        "manifestly made biometric data public (Article 9(2)(e) GDPR).",
        "I also ask you:",
        Items(
            (
                "to tell every recipient to whom you have disclosed these data that I have asked for "
                "their erasure (Article 19 GDPR), and to tell me who they are;",
                "to confirm to me in writing which data you have erased and when;",
                "to make sure that photos of my face are not collected and processed again. If you "
                "keep anything for that purpose, tell me exactly what, why and on which legal basis, "
                "and keep nothing else.",
            )
        ),
        *_finish(ctx),
    ]


def _objection(ctx: Context) -> list[Block]:
    blocks: list[Block] = [
        "Under Article 21(1) GDPR, I object, on grounds relating to my particular situation, to any "
        "processing of personal data concerning me: to the collection of photos of my face, to the "
        "computation of biometric data from them, and to making me findable by a face search.",
        "My face cannot be changed. A face search that finds me in photos anyone uploads reveals "
        "where I have been and with whom, and lets people I do not know identify me, follow me and "
        "harass me. I have never agreed to this and cannot foresee who searches for me.",
    ]
    if ctx.options.reason:
        blocks.append(ctx.options.reason)
    blocks.append(
        "After this objection you may no longer process these data unless you demonstrate compelling "
        "legitimate grounds for the processing which override my interests, rights and freedoms "
        "(Article 21(1) GDPR); no such grounds are apparent. For biometric data there is, moreover, "
        "no exception under Article 9(2) GDPR. Please therefore stop the processing and erase the "
        "data (Article 17(1)(c) GDPR). Until you have decided on my objection, restrict the "
        "processing (Article 18(1)(d) GDPR)."
    )
    return [*blocks, *_finish(ctx)]


def _complaint(ctx: Context) -> list[Block]:
    company = ctx.company
    blocks: list[Block] = [
        "I lodge a complaint under Article 77(1) GDPR against the following company for its "
        "processing of personal data concerning me:",
        Indented(tuple(shared.contact_line(company))),
        "The company collects photos of faces from the internet, computes biometric data from them "
        "and makes the people shown findable by a face search. I have reason to believe that this "
        "includes photos of my face. Biometric data may not be processed to identify a person unless "
        "an exception of Article 9(2) GDPR applies (Article 9(1) GDPR); I have not given my consent.",
    ]
    asked = (
        "asked the company in writing to fulfil my rights as a data subject under Articles 15 to 22 "
        "GDPR concerning these data; a copy of my request is enclosed."
    )
    when = ctx.options.request_date
    blocks.append(f"On {format_date(when)}, I {asked}" if when else f"I {asked}")
    blocks.append(
        {
            "none": "The company has not answered within one month of receipt (Article 12(3) GDPR), "
            "nor has it told me of an extension.",
            "refused": "The company refused my request; a copy of its answer is enclosed. I consider "
            "the refusal unlawful for the reasons given in my request.",
            "incomplete": "The company's answer is incomplete and does not meet the requirements of "
            "the GDPR; a copy of it is enclosed.",
        }[ctx.options.reply]
    )
    blocks.append(_competence(ctx))
    blocks += [
        "I ask you:",
        Items(
            (
                "to investigate the processing of my personal data by the company (Article 57(1)(f) GDPR);",
                "to order the company to comply with my request (Article 58(2)(c) GDPR) and, where the "
                "processing is unlawful, to order the erasure of the data concerning me and a ban on "
                "processing them (Article 58(2)(f) and (g) GDPR);",
                "to inform me of the progress and the outcome of the complaint (Article 77(2) GDPR).",
            )
        ),
        "I do not enclose photos of myself or a copy of an identity document; I will provide what you "
        "need for the investigation on request.",
        _answer_to(ctx),
    ]
    return blocks


def _competence(ctx: Context) -> str:
    company, lead = ctx.company, ctx.lead
    mine = (
        "I lodge it with you as a supervisory authority in the Member State of my habitual "
        "residence or place of work (Article 77(1) GDPR)."
    )
    if shared.no_eu_establishment(company):
        rep = (
            ", and it has not designated a representative in the Union (Article 27 GDPR)"
            if shared.no_representative(company)
            else ""
        )
        return (
            f"As far as is known, the company has no establishment in the European Union{rep}. The GDPR "
            "applies to its processing under Article 3(2)(b) GDPR, because it monitors the behaviour of "
            "people in the Union. Without an establishment in the Union, the cooperation of a lead "
            "authority (Article 56 GDPR) does not apply, and you are competent to handle this complaint "
            f"(Articles 55(1) and 77(1) GDPR). {mine}"
        )
    if lead is not None and ctx.authority is not None and lead.key == ctx.authority.key:
        return (
            "The company's main establishment in the Union is in your Member State; you are the lead "
            "supervisory authority (Article 56(1) GDPR)."
        )
    if lead is not None:
        return f"The company's lead supervisory authority is {lead.name} (Article 56(1) GDPR). {mine}"
    return mine.replace("I lodge it", "I lodge this complaint")


_BODIES = {"access": _access, "erasure": _erasure, "objection": _objection, "complaint": _complaint}


def notes(ctx: Context) -> list[str]:
    """Advice for the sender, not part of the letter."""
    out: list[str] = []
    to = shared.recipient(ctx)
    out += [f"Check before sending: {text}" for text in shared.caveats(ctx)]
    if ctx.authority is not None:
        out += _complaint_notes(ctx, ctx.authority)
    else:
        out += _request_notes(ctx)
    for note in ctx.company.notes:
        if ctx.kind in note.kinds:
            out.append(f"{note.text('en')} (Source: {note.source.url}, checked {note.source.checked.isoformat()}.)")
    if ctx.kind != "complaint" and ctx.company.establishment is not None:
        out.append(ctx.company.establishment.note("en"))
    if to.email is None and to.postal is not None:
        out.append(f"{to.name} has no e-mail address in the data file: send the letter by post.")
    return out


def _request_notes(ctx: Context) -> list[str]:
    to = ctx.company
    how = []
    if to.email is not None:
        how.append(f"by e-mail to {to.email.address} (keep the sent message)")
    if to.postal is not None:
        how.append("by post, as registered mail with proof of delivery")
    out = [f"Send the letter {' and '.join(how)}, and keep a copy."]
    if ctx.options.photo:
        out.append(
            "Enclose one photo of your face, the one the company needs to find the data: crop it to "
            "your face and black out everything else (other people, background, text), and send it "
            "without metadata, for example as a screenshot of the cropped photo. Do not send further "
            "photos. (If you have enrolled yourself with unerkannt consent add, unerkannt protect PHOTO "
            "-o OUT --consent REGISTRY fills every other face and removes the metadata.)"
        )
    out.append(
        "Do not send a copy of your ID unless the company has reasonable doubts about who you are and "
        "asks for it (Article 12(6) GDPR); then black out everything it does not need to confirm who "
        "you are (ID number, signature, ...) and mark the copy as being for this request only."
    )
    due = shared.answer_due(ctx)
    out.append(
        f"The answer is due one month after the letter arrives: if you send it on {format_date(ctx.date)}, "
        f"about {format_date(due)} plus the time it takes to arrive. The company may extend the period by "
        "two months, but only if it tells you so, with reasons, within the first month."
    )
    out.append(
        "If the month passes without an answer or an extension, send a short reminder that refers to "
        "this letter and sets a final period of, for example, 14 days. If that passes too, or the answer "
        "is incomplete or a refusal, lodge a complaint with the data protection authority where you live "
        f"or work: unerkannt rights complaint --to {shared.to_option(ctx.company)} "
        f"--authority KEY --request-date {ctx.date.isoformat()} ... (unerkannt rights list shows the "
        "authorities)."
    )
    return out


def _complaint_notes(ctx: Context, authority: Authority) -> list[str]:
    out = []
    how = []
    if authority.email is not None:
        how.append(f"by e-mail to {authority.email.address}")
    if authority.postal is not None:
        how.append("by post")
    out.append(
        f"Send the complaint {' or '.join(how)}; many authorities also have an online complaint form. "
        "Enclose a copy of your request to the company, proof that you sent it (the sent e-mail or the "
        "postal receipt) and the company's answer, if any. Do not enclose photos of yourself or a copy "
        "of your ID unless the authority asks."
    )
    if shared.request_period_running(ctx):
        out.append(
            "The month for the company's answer (Article 12(3) GDPR) may not be over yet; a complaint "
            "about a missing answer is stronger once it is."
        )
    if authority.competence is not None:
        out.append(authority.competence("en"))
    languages = shared.foreign_language(ctx)
    if languages:
        out.append(
            f"This letter is in English; {authority.name} works in {' and '.join(languages)}. "
            "Send a translation if you can, or use --lang de where that fits."
        )
    if ctx.company.establishment is not None:
        out.append(ctx.company.establishment.note("en"))
    if ctx.lead is None:
        others = ", ".join(a.key for a in shared.other_authorities(ctx))
        out.append(
            "Complain to the authority of the EU country where you live or work, or where the "
            f"infringement took place (Article 77(1) GDPR). Other authorities in the data file: {others}."
        )
    elif ctx.lead.key == authority.key:
        out.append(
            "Instead of the lead authority you may complain to the authority where you live or work "
            "(Article 77(1) GDPR); it cooperates with the lead authority. Choose it with --authority KEY."
        )
    else:
        out.append(f"The company's lead authority is {ctx.lead.name}; your authority cooperates with it.")
    out.append(
        "The authority must tell you within three months how your complaint is progressing; if it does "
        "not, you may take it to court (Article 78(2) GDPR). The complaint is free of charge."
    )
    return out
