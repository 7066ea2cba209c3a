"""Die Briefe auf Deutsch."""

from __future__ import annotations

import datetime

from ..data import Authority
from ..model import Block, Context, Indented, Items
from . import shared

SUBJECT = "Betreff:"
SALUTATION = "Sehr geehrte Damen und Herren,"
CLOSING = "Mit freundlichen Grüßen"
BY_EMAIL = "Per E-Mail:"

_MONTHS = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def format_date(day: datetime.date) -> str:
    """``1. Dezember 2026``."""
    return f"{day.day}. {_MONTHS[day.month - 1]} {day.year}"


def subject(ctx: Context) -> str:
    return {
        "access": "Auskunftsersuchen nach Art. 15 DSGVO",
        "erasure": "Antrag auf Löschung meiner personenbezogenen Daten nach Art. 17 DSGVO",
        "objection": "Widerspruch gegen die Verarbeitung meiner personenbezogenen Daten nach Art. 21 DSGVO",
        "complaint": f"Beschwerde nach Art. 77 DSGVO gegen {ctx.company.name}",
    }[ctx.kind]


def body(ctx: Context) -> list[Block]:
    return _BODIES[ctx.kind](ctx)


def enclosures(ctx: Context) -> str:
    if ctx.kind == "complaint":
        parts = ["Kopie meines Antrags an das Unternehmen mit Nachweis der Absendung"]
        if ctx.options.reply != "none":
            parts.append("Kopie der Antwort des Unternehmens")
        return "Anlagen: " + "; ".join(parts)
    return "Anlage: ein Foto meines Gesichts (alles andere geschwärzt)" if ctx.options.photo else ""


_BIOMETRIC = (
    "Fotos meines Gesichts sind personenbezogene Daten. Daraus berechnete Merkmale zur "
    "Gesichtserkennung (Templates, „Face Fingerprints“, Embeddings) sind biometrische Daten "
    "(Art. 4 Nr. 14 DSGVO); ihre Verarbeitung zur eindeutigen Identifizierung einer Person ist "
    "untersagt, wenn keine Ausnahme nach Art. 9 Abs. 2 DSGVO vorliegt (Art. 9 Abs. 1 DSGVO)."
)


def _scope(ctx: Context) -> list[Block]:
    outside = shared.no_eu_establishment(ctx.company)
    applies = (
        "gilt die DSGVO für diese Verarbeitung nach Art. 3 Abs. 2 lit. b DSGVO, weil Sie das Verhalten "
        "von Personen in der Union beobachten, darunter meines, indem Sie Fotos ihrer Gesichter sammeln "
        "und durchsuchbar machen."
    )
    if outside is None:
        return [f"Falls Sie keine Niederlassung in der Europäischen Union haben, {applies}"]
    if outside:
        return [f"Soweit mir bekannt, haben Sie keine Niederlassung in der Europäischen Union. Dennoch {applies}"]
    return []


def _finish(ctx: Context) -> list[Block]:
    """Die Absätze am Ende jedes Antrags: Foto, Identität, Frist, Antwortweg."""
    blocks: list[Block] = [*_scope(ctx)]
    if ctx.options.photo:
        blocks.append(
            "Damit Sie die Daten finden können, lege ich ein Foto meines Gesichts bei; alles andere "
            "darauf ist geschwärzt. Verwenden Sie es nur zur Beantwortung dieses Antrags und löschen Sie "
            "es danach (Art. 5 Abs. 1 lit. b, c und e DSGVO); nehmen Sie es nicht in Ihren Suchindex auf."
        )
    else:
        blocks.append(
            "Ein Foto von mir lege ich nicht bei. Falls Sie die Daten ohne Foto nicht finden können, "
            "teilen Sie mir das innerhalb der unten genannten Frist mit; ich sende Ihnen dann ein Foto "
            "meines Gesichts, nur für diesen Antrag."
        )
    blocks.append(
        "Eine Ausweiskopie lege ich nicht bei. Sie ist nicht nötig, um die Daten zu finden, und "
        "zusätzliche Informationen dürfen Sie nur anfordern, wenn Sie begründete Zweifel an meiner "
        "Identität haben, und nur so viele, wie zu ihrer Bestätigung erforderlich sind (Art. 12 Abs. 6 "
        "DSGVO)."
    )
    blocks.append(
        "Bitte antworten Sie innerhalb eines Monats nach Eingang dieses Antrags (Art. 12 Abs. 3 "
        "DSGVO). Diese Frist kann nur verlängert werden, wenn das unter Berücksichtigung der "
        "Komplexität und der Anzahl von Anträgen erforderlich ist, und um höchstens zwei weitere "
        "Monate; eine Verlängerung müssen Sie mir innerhalb des ersten Monats mit den Gründen "
        "mitteilen. Ihre Antwort ist unentgeltlich (Art. 12 Abs. 5 DSGVO). Erhalte ich innerhalb eines "
        "Monats keine Antwort, werde ich Beschwerde bei einer Aufsichtsbehörde einlegen (Art. 77 DSGVO)."
    )
    blocks.append(_answer_to(ctx))
    if ctx.company.letter_note is not None:
        blocks.append(ctx.company.letter_note("de"))
    return blocks


def _answer_to(ctx: Context) -> str:
    email, postal = ctx.sender.email, bool(ctx.sender.address)
    if email and postal:
        return f"Bitte antworten Sie per E-Mail an {email} oder per Post an meine oben genannte Anschrift."
    if email:
        return f"Bitte antworten Sie per E-Mail an {email}."
    return "Bitte antworten Sie per Post an meine oben genannte Anschrift."


def _access(ctx: Context) -> list[Block]:
    return [
        "nach Art. 15 DSGVO bitte ich Sie um Bestätigung, ob Sie mich betreffende personenbezogene "
        "Daten verarbeiten, und, falls ja, um Auskunft über diese Daten. Dazu gehören Fotos meines "
        "Gesichts, die Sie gesammelt oder erhalten haben, die Webadressen, unter denen Sie sie gefunden "
        "haben, und alle daraus abgeleiteten biometrischen Daten.",
        _BIOMETRIC,
        "Ich bitte insbesondere um:",
        Items(
            (
                "eine Kopie aller mich betreffenden personenbezogenen Daten (Art. 15 Abs. 3 DSGVO): "
                "jedes Foto, die Webadresse (URL), unter der es gefunden wurde, und wann, sowie die "
                "daraus abgeleiteten biometrischen Daten;",
                "die Verarbeitungszwecke und die Rechtsgrundlage, einschließlich der Ausnahme nach "
                "Art. 9 Abs. 2 DSGVO, auf die Sie sich für biometrische Daten stützen;",
                "die Empfänger oder Kategorien von Empfängern, denen die Daten offengelegt worden sind "
                "oder noch offengelegt werden, insbesondere Kunden, die nach meinem Gesicht gesucht "
                "haben, und Empfänger in Drittländern mit den Garantien für die Übermittlung (Art. 15 "
                "Abs. 2 DSGVO);",
                "die geplante Speicherdauer oder, falls das nicht möglich ist, die Kriterien für ihre Festlegung;",
                "die Herkunft der Daten (Art. 15 Abs. 1 lit. g DSGVO);",
                "Auskunft, ob eine automatisierte Entscheidungsfindung einschließlich Profiling "
                "stattfindet, und aussagekräftige Informationen über die dabei involvierte Logik "
                "(Art. 15 Abs. 1 lit. h DSGVO).",
            )
        ),
        *_finish(ctx),
    ]


def _erasure(ctx: Context) -> list[Block]:
    return [
        "nach Art. 17 Abs. 1 DSGVO verlange ich, dass Sie alle mich betreffenden personenbezogenen "
        "Daten unverzüglich löschen: jedes Foto meines Gesichts, das Sie gespeichert haben, die damit "
        "verknüpften Webadressen und sonstigen Daten sowie alle daraus abgeleiteten biometrischen "
        "Daten (Templates, „Face Fingerprints“, Embeddings).",
        "Es liegen die Löschgründe des Art. 17 Abs. 1 lit. c und d DSGVO vor. Ich widerspreche der "
        "Verarbeitung (Art. 21 Abs. 1 DSGVO), und es liegen keine vorrangigen berechtigten Gründe für "
        "sie vor; außerdem werden die Daten unrechtmäßig verarbeitet. Biometrische Daten dürfen zur "
        "Identifizierung einer Person nicht verarbeitet werden, wenn keine Ausnahme nach Art. 9 Abs. 2 "
        "DSGVO vorliegt (Art. 9 Abs. 1 DSGVO). Ich habe nicht ausdrücklich eingewilligt (Art. 9 Abs. 2 "
        "lit. a DSGVO), und Fotos von mir im Internet bedeuten nicht, dass ich biometrische Daten "
        "offensichtlich öffentlich gemacht hätte (Art. 9 Abs. 2 lit. e DSGVO).",
        "Ich bitte Sie außerdem,",
        Items(
            (
                "allen Empfängern, denen Sie diese Daten offengelegt haben, meinen Löschantrag "
                "mitzuteilen (Art. 19 DSGVO) und mir diese Empfänger zu nennen;",
                "mir schriftlich zu bestätigen, welche Daten Sie wann gelöscht haben;",
                "dafür zu sorgen, dass Fotos meines Gesichts nicht erneut erhoben und verarbeitet "
                "werden. Wenn Sie dafür etwas aufbewahren, teilen Sie mir genau mit, was, wozu und auf "
                "welcher Rechtsgrundlage; bewahren Sie nichts anderes auf.",
            )
        ),
        *_finish(ctx),
    ]


def _objection(ctx: Context) -> list[Block]:
    blocks: list[Block] = [
        "nach Art. 21 Abs. 1 DSGVO widerspreche ich aus Gründen, die sich aus meiner besonderen "
        "Situation ergeben, jeder Verarbeitung mich betreffender personenbezogener Daten: dem Sammeln "
        "von Fotos meines Gesichts, dem Berechnen biometrischer Daten daraus und dem Auffindbarmachen "
        "meiner Person über eine Gesichtssuche.",
        "Mein Gesicht kann ich nicht ändern. Eine Gesichtssuche, die mich auf Fotos findet, die "
        "irgendjemand hochlädt, verrät, wo ich war und mit wem, und erlaubt Fremden, mich zu "
        "identifizieren, mir nachzustellen und mich zu belästigen. Ich habe dem nie zugestimmt und "
        "kann nicht absehen, wer nach mir sucht.",
    ]
    if ctx.options.reason:
        blocks.append(ctx.options.reason)
    blocks.append(
        "Nach diesem Widerspruch dürfen Sie die Daten nicht mehr verarbeiten, es sei denn, Sie weisen "
        "zwingende schutzwürdige Gründe für die Verarbeitung nach, die meine Interessen, Rechte und "
        "Freiheiten überwiegen (Art. 21 Abs. 1 DSGVO); solche Gründe sind nicht ersichtlich. Für "
        "biometrische Daten fehlt zudem eine Ausnahme nach Art. 9 Abs. 2 DSGVO. Bitte beenden Sie "
        "daher die Verarbeitung und löschen Sie die Daten (Art. 17 Abs. 1 lit. c DSGVO). Bis zu Ihrer "
        "Entscheidung über meinen Widerspruch schränken Sie die Verarbeitung bitte ein (Art. 18 Abs. 1 "
        "lit. d DSGVO)."
    )
    return [*blocks, *_finish(ctx)]


def _complaint(ctx: Context) -> list[Block]:
    company = ctx.company
    blocks: list[Block] = [
        "hiermit lege ich nach Art. 77 Abs. 1 DSGVO Beschwerde gegen das folgende Unternehmen ein, "
        "wegen der Verarbeitung mich betreffender personenbezogener Daten:",
        Indented(tuple(shared.contact_line(company))),
        "Das Unternehmen sammelt Fotos von Gesichtern aus dem Internet, berechnet daraus biometrische "
        "Daten und macht die abgebildeten Menschen über eine Gesichtssuche auffindbar. Ich habe Grund "
        "zu der Annahme, dass dazu auch Fotos meines Gesichts gehören. Biometrische Daten dürfen zur "
        "Identifizierung einer Person nicht verarbeitet werden, wenn keine Ausnahme nach Art. 9 Abs. 2 "
        "DSGVO vorliegt (Art. 9 Abs. 1 DSGVO); ich habe nicht eingewilligt.",
    ]
    asked = (
        "das Unternehmen schriftlich aufgefordert, meine Rechte als betroffene Person nach Art. 15 bis "
        "22 DSGVO in Bezug auf diese Daten zu erfüllen; eine Kopie meines Antrags liegt bei."
    )
    when = ctx.options.request_date
    blocks.append(f"Am {format_date(when)} habe ich {asked}" if when else f"Ich habe {asked}")
    blocks.append(
        {
            "none": "Das Unternehmen hat nicht innerhalb eines Monats nach Eingang geantwortet (Art. 12 "
            "Abs. 3 DSGVO) und mir auch keine Fristverlängerung mitgeteilt.",
            "refused": "Das Unternehmen hat meinen Antrag abgelehnt; eine Kopie seiner Antwort liegt "
            "bei. Ich halte die Ablehnung aus den in meinem Antrag genannten Gründen für rechtswidrig.",
            "incomplete": "Die Antwort des Unternehmens ist unvollständig und genügt den Anforderungen "
            "der DSGVO nicht; eine Kopie liegt bei.",
        }[ctx.options.reply]
    )
    blocks.append(_competence(ctx))
    blocks += [
        "Ich bitte Sie,",
        Items(
            (
                "die Verarbeitung meiner personenbezogenen Daten durch das Unternehmen zu untersuchen "
                "(Art. 57 Abs. 1 lit. f DSGVO);",
                "das Unternehmen anzuweisen, meinem Antrag zu entsprechen (Art. 58 Abs. 2 lit. c DSGVO), "
                "und, soweit die Verarbeitung rechtswidrig ist, die Löschung der mich betreffenden Daten "
                "und ein Verbot ihrer Verarbeitung anzuordnen (Art. 58 Abs. 2 lit. f und g DSGVO);",
                "mich über den Stand und das Ergebnis der Beschwerde zu unterrichten (Art. 77 Abs. 2 DSGVO).",
            )
        ),
        "Fotos von mir oder eine Ausweiskopie lege ich nicht bei; was Sie für die Untersuchung "
        "benötigen, reiche ich auf Anfrage nach.",
        _answer_to(ctx),
    ]
    return blocks


def _competence(ctx: Context) -> str:
    company, lead = ctx.company, ctx.lead
    mine = (
        "Ich lege sie bei Ihnen als Aufsichtsbehörde in dem Mitgliedstaat meines gewöhnlichen "
        "Aufenthaltsorts oder meines Arbeitsplatzes ein (Art. 77 Abs. 1 DSGVO)."
    )
    if shared.no_eu_establishment(company):
        rep = " und keinen Vertreter in der Union benannt (Art. 27 DSGVO)" if shared.no_representative(company) else ""
        return (
            f"Soweit bekannt, hat das Unternehmen keine Niederlassung in der Europäischen Union{rep}. "
            "Die DSGVO gilt für seine Verarbeitung nach Art. 3 Abs. 2 lit. b DSGVO, weil es das "
            "Verhalten von Personen in der Union beobachtet. Ohne Niederlassung in der Union gibt es "
            "keine federführende Aufsichtsbehörde (Art. 56 DSGVO), und Sie sind für diese Beschwerde "
            f"zuständig (Art. 55 Abs. 1 und Art. 77 Abs. 1 DSGVO). {mine}"
        )
    if lead is not None and ctx.authority is not None and lead.key == ctx.authority.key:
        return (
            "Die Hauptniederlassung des Unternehmens in der Union liegt in Ihrem Mitgliedstaat; Sie "
            "sind die federführende Aufsichtsbehörde (Art. 56 Abs. 1 DSGVO)."
        )
    if lead is not None:
        return f"Federführende Aufsichtsbehörde für das Unternehmen ist {lead.name} (Art. 56 Abs. 1 DSGVO). {mine}"
    return mine.replace("Ich lege sie", "Ich lege diese Beschwerde")


_BODIES = {"access": _access, "erasure": _erasure, "objection": _objection, "complaint": _complaint}


def notes(ctx: Context) -> list[str]:
    """Hinweise für die absendende Person, nicht Teil des Briefs."""
    out: list[str] = []
    to = shared.recipient(ctx)
    out += [f"Vor dem Absenden prüfen: {text}" for text in shared.caveats(ctx)]
    if ctx.authority is not None:
        out += _complaint_notes(ctx, ctx.authority)
    else:
        out += _request_notes(ctx)
    for note in ctx.company.notes:
        if ctx.kind in note.kinds:
            out.append(f"{note.text('de')} (Quelle: {note.source.url}, geprüft am {format_date(note.source.checked)}.)")
    if ctx.kind != "complaint" and ctx.company.establishment is not None:
        out.append(ctx.company.establishment.note("de"))
    if to.email is None and to.postal is not None:
        out.append(f"Für {to.name} ist keine E-Mail-Adresse bekannt: Senden Sie den Brief per Post.")
    return out


def _request_notes(ctx: Context) -> list[str]:
    to = ctx.company
    how = []
    if to.email is not None:
        how.append(f"per E-Mail an {to.email.address} (bewahren Sie die gesendete Nachricht auf)")
    if to.postal is not None:
        how.append("per Post als Einschreiben mit Rückschein")
    out = [f"Senden Sie den Brief {' und '.join(how)} und behalten Sie eine Kopie."]
    if ctx.options.photo:
        out.append(
            "Legen Sie ein Foto Ihres Gesichts bei, das, mit dem das Unternehmen die Daten finden kann: "
            "Schneiden Sie es auf Ihr Gesicht zu, schwärzen Sie alles andere (andere Menschen, "
            "Hintergrund, Text) und senden Sie es ohne Metadaten, etwa als Bildschirmfoto des "
            "zugeschnittenen Bildes. Senden Sie keine weiteren Fotos. (Wenn Sie sich mit unerkannt "
            "consent add eingetragen haben, füllt unerkannt protect FOTO -o ORDNER --consent REGISTER "
            "jedes andere Gesicht und entfernt die Metadaten.)"
        )
    out.append(
        "Senden Sie keine Ausweiskopie, es sei denn, das Unternehmen hat begründete Zweifel an Ihrer "
        "Identität und fragt danach (Art. 12 Abs. 6 DSGVO); schwärzen Sie dann alles, was es zur "
        "Bestätigung Ihrer Identität nicht braucht (Ausweisnummer, Unterschrift, ...), und vermerken "
        "Sie, dass die Kopie nur für diesen Antrag bestimmt ist."
    )
    due = shared.answer_due(ctx)
    out.append(
        "Die Antwort ist einen Monat nach Eingang des Briefs fällig: Wenn Sie ihn am "
        f"{format_date(ctx.date)} absenden, etwa am {format_date(due)} zuzüglich der Laufzeit. Das "
        "Unternehmen kann die Frist um zwei Monate verlängern, aber nur, wenn es Ihnen das innerhalb des "
        "ersten Monats mit Gründen mitteilt."
    )
    out.append(
        "Vergeht der Monat ohne Antwort oder Verlängerung, senden Sie eine kurze Erinnerung, die auf "
        "diesen Brief verweist und eine letzte Frist setzt, etwa 14 Tage. Verstreicht auch diese, oder "
        "ist die Antwort unvollständig oder eine Ablehnung, legen Sie Beschwerde bei der "
        "Datenschutzbehörde ein, wo Sie wohnen oder arbeiten: unerkannt rights complaint --to "
        f"{shared.to_option(ctx.company)} --authority KÜRZEL --request-date "
        f"{ctx.date.isoformat()} --lang de ... (unerkannt rights list zeigt die Behörden)."
    )
    return out


def _complaint_notes(ctx: Context, authority: Authority) -> list[str]:
    out = []
    how = []
    if authority.email is not None:
        how.append(f"per E-Mail an {authority.email.address}")
    if authority.postal is not None:
        how.append("per Post")
    out.append(
        f"Senden Sie die Beschwerde {' oder '.join(how)}; viele Behörden haben auch ein "
        "Online-Beschwerdeformular. Legen Sie eine Kopie Ihres Antrags an das Unternehmen bei, einen "
        "Nachweis der Absendung (die gesendete E-Mail oder den Einlieferungsbeleg) und die Antwort des "
        "Unternehmens, falls es eine gibt. Fotos von sich oder eine Ausweiskopie legen Sie nur bei, "
        "wenn die Behörde danach fragt."
    )
    if shared.request_period_running(ctx):
        out.append(
            "Die Monatsfrist für die Antwort des Unternehmens (Art. 12 Abs. 3 DSGVO) ist vielleicht "
            "noch nicht abgelaufen; eine Beschwerde über eine fehlende Antwort ist stärker, wenn sie "
            "abgelaufen ist."
        )
    if authority.competence is not None:
        out.append(authority.competence("de"))
    languages = shared.foreign_language(ctx)
    if languages:
        out.append(
            f"Dieser Brief ist auf Deutsch; {authority.name} arbeitet auf {' und '.join(languages)}. "
            "Senden Sie wenn möglich eine Übersetzung mit, oder nutzen Sie --lang en, wo das passt."
        )
    if ctx.company.establishment is not None:
        out.append(ctx.company.establishment.note("de"))
    if ctx.lead is None:
        others = ", ".join(a.key for a in shared.other_authorities(ctx))
        out.append(
            "Beschweren Sie sich bei der Behörde des EU-Staats, in dem Sie wohnen oder arbeiten oder in "
            f"dem der Verstoß geschah (Art. 77 Abs. 1 DSGVO). Weitere Behörden in der Datei: {others}."
        )
    elif ctx.lead.key == authority.key:
        out.append(
            "Statt bei der federführenden Behörde können Sie sich auch bei der Behörde beschweren, wo "
            "Sie wohnen oder arbeiten (Art. 77 Abs. 1 DSGVO); sie arbeitet mit der federführenden "
            "Behörde zusammen. Wählen Sie sie mit --authority KÜRZEL."
        )
    else:
        out.append(f"Federführend für das Unternehmen ist {ctx.lead.name}; Ihre Behörde arbeitet mit ihr zusammen.")
    out.append(
        "Die Behörde muss Sie innerhalb von drei Monaten über den Stand Ihrer Beschwerde unterrichten; "
        "tut sie das nicht, können Sie vor Gericht ziehen (Art. 78 Abs. 2 DSGVO). Die Beschwerde ist "
        "kostenlos."
    )
    return out
