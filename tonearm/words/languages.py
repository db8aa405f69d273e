"""Language offsets of the multilingual text space, so a question finds a talk in another language.

E5 puts a text's language into its vector as much as its topic: an English question about
cooking scores an English talk about gardening (0.82) above a Spanish talk about cooking
(0.80). Subtracting each language's mean vector leaves mostly the topic. The means come from
the same 30 everyday sentences written in each supported language (so topics cancel and only
the language differs), embedded on both sides E5 distinguishes (``passage:`` for documents,
``query:`` for searches). They are computed once per process from the sentences below; the
result is cached in tonearm's cache folder, keyed by the text model.

A query's language is read from its function words (the, de, der, le, ...) or, when it has
none ("jupiter telescope"), from the nearest language mean.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from tonearm.words import embed

# The same sentences in each language: varied topics, everyday words.
SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "The weather will be cold and windy tomorrow morning.", "She bought a new car last week.",
        "Our team lost the final match on Sunday.", "Please close the door when you leave the room.",
        "The museum opens at nine and closes at five.", "He reads the newspaper every day after breakfast.",
        "The children are playing in the park near the school.", "This song reminds me of my childhood.",
        "The train to the city was late again.", "We need to buy milk, bread and cheese.",
        "The doctor told him to rest for a week.", "Scientists discovered a new species of frog in the forest.",
        "The company announced record profits this year.", "I cannot find my keys anywhere.",
        "The river flooded the old bridge after the storm.", "They are getting married in June.",
        "The teacher explained the lesson twice.", "My phone battery is almost empty.",
        "The mountains are covered with snow in winter.", "Thank you for listening to our show.",
        "The government will raise taxes next year.", "My grandmother bakes bread every Saturday.",
        "The concert was cancelled because of the rain.", "He has been learning to play the guitar.",
        "The hotel room had a view of the sea.", "You should drink more water when it is hot.",
        "The library is closed on public holidays.", "We watched a film about the history of the city.",
        "The price of petrol went up again.", "She walks her dog along the beach every evening.",
    ),
    "es": (
        "Mañana por la mañana hará frío y viento.", "Ella compró un coche nuevo la semana pasada.",
        "Nuestro equipo perdió la final el domingo.", "Por favor, cierra la puerta cuando salgas de la habitación.",
        "El museo abre a las nueve y cierra a las cinco.", "Él lee el periódico todos los días después del desayuno.",
        "Los niños juegan en el parque cerca de la escuela.", "Esta canción me recuerda a mi infancia.",
        "El tren a la ciudad llegó tarde otra vez.", "Tenemos que comprar leche, pan y queso.",
        "El médico le dijo que descansara una semana.", "Los científicos descubrieron una nueva especie de rana en el bosque.",
        "La empresa anunció beneficios récord este año.", "No encuentro mis llaves por ningún lado.",
        "El río inundó el puente viejo después de la tormenta.", "Se casan en junio.",
        "La profesora explicó la lección dos veces.", "La batería de mi teléfono está casi vacía.",
        "Las montañas están cubiertas de nieve en invierno.", "Gracias por escuchar nuestro programa.",
        "El gobierno subirá los impuestos el año que viene.", "Mi abuela hace pan todos los sábados.",
        "El concierto se canceló por la lluvia.", "Está aprendiendo a tocar la guitarra.",
        "La habitación del hotel tenía vistas al mar.", "Deberías beber más agua cuando hace calor.",
        "La biblioteca cierra los días festivos.", "Vimos una película sobre la historia de la ciudad.",
        "El precio de la gasolina volvió a subir.", "Ella pasea a su perro por la playa todas las tardes.",
    ),
    "fr": (
        "Demain matin, il fera froid et il y aura du vent.", "Elle a acheté une nouvelle voiture la semaine dernière.",
        "Notre équipe a perdu la finale dimanche.", "Ferme la porte quand tu quittes la pièce, s'il te plaît.",
        "Le musée ouvre à neuf heures et ferme à cinq heures.", "Il lit le journal tous les jours après le petit-déjeuner.",
        "Les enfants jouent dans le parc près de l'école.", "Cette chanson me rappelle mon enfance.",
        "Le train pour la ville était encore en retard.", "Nous devons acheter du lait, du pain et du fromage.",
        "Le médecin lui a dit de se reposer pendant une semaine.", "Des scientifiques ont découvert une nouvelle espèce de grenouille dans la forêt.",
        "L'entreprise a annoncé des bénéfices record cette année.", "Je ne trouve mes clés nulle part.",
        "La rivière a inondé le vieux pont après la tempête.", "Ils se marient en juin.",
        "Le professeur a expliqué la leçon deux fois.", "La batterie de mon téléphone est presque vide.",
        "Les montagnes sont couvertes de neige en hiver.", "Merci d'avoir écouté notre émission.",
        "Le gouvernement augmentera les impôts l'année prochaine.", "Ma grand-mère fait du pain tous les samedis.",
        "Le concert a été annulé à cause de la pluie.", "Il apprend à jouer de la guitare.",
        "La chambre d'hôtel avait vue sur la mer.", "Tu devrais boire plus d'eau quand il fait chaud.",
        "La bibliothèque est fermée les jours fériés.", "Nous avons regardé un film sur l'histoire de la ville.",
        "Le prix de l'essence a encore augmenté.", "Elle promène son chien sur la plage tous les soirs.",
    ),
    "de": (
        "Morgen früh wird es kalt und windig.", "Sie hat letzte Woche ein neues Auto gekauft.",
        "Unsere Mannschaft hat am Sonntag das Finale verloren.", "Bitte schließ die Tür, wenn du den Raum verlässt.",
        "Das Museum öffnet um neun und schließt um fünf.", "Er liest jeden Tag nach dem Frühstück die Zeitung.",
        "Die Kinder spielen im Park neben der Schule.", "Dieses Lied erinnert mich an meine Kindheit.",
        "Der Zug in die Stadt hatte wieder Verspätung.", "Wir müssen Milch, Brot und Käse kaufen.",
        "Der Arzt sagte ihm, er solle sich eine Woche ausruhen.", "Wissenschaftler haben im Wald eine neue Froschart entdeckt.",
        "Die Firma hat in diesem Jahr einen Rekordgewinn gemeldet.", "Ich finde meine Schlüssel nirgends.",
        "Der Fluss hat nach dem Sturm die alte Brücke überflutet.", "Sie heiraten im Juni.",
        "Die Lehrerin hat die Lektion zweimal erklärt.", "Der Akku meines Handys ist fast leer.",
        "Im Winter sind die Berge mit Schnee bedeckt.", "Danke, dass Sie unsere Sendung gehört haben.",
        "Die Regierung wird nächstes Jahr die Steuern erhöhen.", "Meine Großmutter backt jeden Samstag Brot.",
        "Das Konzert wurde wegen des Regens abgesagt.", "Er lernt gerade Gitarre spielen.",
        "Das Hotelzimmer hatte Blick aufs Meer.", "Du solltest mehr Wasser trinken, wenn es heiß ist.",
        "Die Bibliothek ist an Feiertagen geschlossen.", "Wir haben einen Film über die Geschichte der Stadt gesehen.",
        "Der Benzinpreis ist wieder gestiegen.", "Sie geht jeden Abend mit ihrem Hund am Strand spazieren.",
    ),
    "pt": (
        "Amanhã de manhã vai fazer frio e vento.", "Ela comprou um carro novo na semana passada.",
        "A nossa equipa perdeu a final no domingo.", "Por favor, fecha a porta quando saíres do quarto.",
        "O museu abre às nove e fecha às cinco.", "Ele lê o jornal todos os dias depois do pequeno-almoço.",
        "As crianças estão a brincar no parque perto da escola.", "Esta canção faz-me lembrar a minha infância.",
        "O comboio para a cidade voltou a atrasar-se.", "Precisamos de comprar leite, pão e queijo.",
        "O médico disse-lhe para descansar durante uma semana.", "Cientistas descobriram uma nova espécie de rã na floresta.",
        "A empresa anunciou lucros recorde este ano.", "Não encontro as minhas chaves em lado nenhum.",
        "O rio inundou a ponte velha depois da tempestade.", "Eles vão casar-se em junho.",
        "A professora explicou a lição duas vezes.", "A bateria do meu telemóvel está quase vazia.",
        "As montanhas ficam cobertas de neve no inverno.", "Obrigado por ouvirem o nosso programa.",
        "O governo vai aumentar os impostos no próximo ano.", "A minha avó faz pão todos os sábados.",
        "O concerto foi cancelado por causa da chuva.", "Ele está a aprender a tocar guitarra.",
        "O quarto do hotel tinha vista para o mar.", "Devias beber mais água quando está calor.",
        "A biblioteca fecha nos feriados.", "Vimos um filme sobre a história da cidade.",
        "O preço da gasolina voltou a subir.", "Ela passeia o cão pela praia todas as tardes.",
    ),
    "it": (
        "Domani mattina farà freddo e ci sarà vento.", "Ha comprato una macchina nuova la settimana scorsa.",
        "La nostra squadra ha perso la finale domenica.", "Per favore, chiudi la porta quando esci dalla stanza.",
        "Il museo apre alle nove e chiude alle cinque.", "Legge il giornale ogni giorno dopo colazione.",
        "I bambini giocano nel parco vicino alla scuola.", "Questa canzone mi ricorda la mia infanzia.",
        "Il treno per la città era di nuovo in ritardo.", "Dobbiamo comprare latte, pane e formaggio.",
        "Il medico gli ha detto di riposare per una settimana.", "Gli scienziati hanno scoperto una nuova specie di rana nella foresta.",
        "L'azienda ha annunciato profitti record quest'anno.", "Non trovo le mie chiavi da nessuna parte.",
        "Il fiume ha allagato il vecchio ponte dopo la tempesta.", "Si sposano a giugno.",
        "L'insegnante ha spiegato la lezione due volte.", "La batteria del mio telefono è quasi scarica.",
        "In inverno le montagne sono coperte di neve.", "Grazie per aver ascoltato il nostro programma.",
        "Il governo aumenterà le tasse l'anno prossimo.", "Mia nonna fa il pane ogni sabato.",
        "Il concerto è stato annullato per la pioggia.", "Sta imparando a suonare la chitarra.",
        "La camera d'albergo aveva la vista sul mare.", "Dovresti bere più acqua quando fa caldo.",
        "La biblioteca è chiusa nei giorni festivi.", "Abbiamo visto un film sulla storia della città.",
        "Il prezzo della benzina è salito di nuovo.", "Porta a spasso il cane sulla spiaggia ogni sera.",
    ),
}  # fmt: skip

# Frequent short words of each language (function words). Lists overlap ("de", "la", "con"): a
# text counts for every language that uses a word, and the language with most wins.
_FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the a an and or of to in on at by for with from into about around over under after before "
        "is are was were be been has have had do does did not no this that these those it its my your "
        "our their his her we they you i me us them what how why when where who which can will would "
        "should could there here than then very more most some any all each every".split()
    ),
    "es": frozenset(
        "el la los las un una unos unas y o de del al a en con sin por para sobre entre hasta desde "
        "que qué cómo como cuando donde dónde quien es son está están era fue ser estar hay muy más "
        "pero también ya no sí su sus mi mis tu tus nuestro nuestra se lo le les me te nos este esta "
        "estos estas ese esa eso cada todo todos mejor".split()
    ),
    "fr": frozenset(
        "le la les un une des et ou de du au aux à en dans avec sans pour par sur sous entre que qui "
        "quoi comment quand où est sont était être avoir a ont très plus mais aussi ne pas oui son sa "
        "ses mon ma mes ton ta nos vos leur se ce cet cette ces chaque tout tous je tu il elle nous vous".split()
    ),
    "de": frozenset(
        "der die das den dem des ein eine einen einem einer und oder von zu im in an auf mit ohne für "
        "über unter nach vor bei aus ist sind war waren sein haben hat nicht kein keine sehr mehr aber "
        "auch wie was wer wo wann warum ich du er sie es wir ihr mein dein unser sich dieser diese dieses".split()
    ),
    "pt": frozenset(
        "o a os as um uma uns umas e ou de do da dos das no na nos nas em com sem por para sobre entre "
        "até desde que como quando onde quem é são está estão era foi ser estar há muito mais mas também "
        "já não sim seu sua seus suas meu minha se lhe me te nos este esta isto esse essa cada todo".split()
    ),
    "it": frozenset(
        "il lo la i gli le un uno una e o di del della dei delle al alla a in nel nella con senza per "
        "su tra fra da che come quando dove chi è sono era essere avere ha hanno molto più ma anche già "
        "non sì suo sua suoi mio mia si ci mi ti vi questo questa quello quella ogni tutto".split()
    ),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _stamp() -> str:
    """Identity of the means: the text model and the reference sentences."""
    digest = hashlib.blake2b(repr(sorted(SENTENCES.items())).encode(), digest_size=6).hexdigest()
    return f"{embed.MODEL_KEY}-{digest}"


SHIPPED = Path(__file__).with_name("language_means.npz")


@dataclass(frozen=True)
class Reference:
    """The reference sentences embedded: per-language means and every sentence's passage vector."""

    means: dict[str, tuple[np.ndarray, np.ndarray]]  # language -> (passage mean, query mean)
    passages: np.ndarray  # (n, 384) passage vectors of all sentences, languages in SENTENCES order


def _read(path: Path) -> Reference | None:
    try:
        with np.load(path) as data:
            if str(data["stamp"]) != _stamp():
                return None
            table = {lang: (data[f"{lang}_p"], data[f"{lang}_q"]) for lang in SENTENCES}
            return Reference(table, data["passages"].astype(np.float32))
    except (OSError, KeyError, ValueError):
        return None


def _write(path: Path, ref: Reference) -> None:
    arrays = {f"{lang}_{side}": v for lang, (p, q) in ref.means.items() for side, v in (("p", p), ("q", q))}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, stamp=np.array(_stamp()), passages=ref.passages.astype(np.float16), **arrays)
    tmp.replace(path)


def compute_reference() -> Reference:
    table, rows = {}, []
    for lang, sentences in SENTENCES.items():
        p = embed.passages(sentences)
        table[lang] = (p.mean(axis=0), embed.queries(sentences).mean(axis=0))
        rows.append(p)
    return Reference(table, np.concatenate(rows))


@cache
def reference() -> Reference:
    """The embedded reference sentences: shipped with tonearm (``language_means.npz``, rebuilt by
    ``python -m tonearm.words.languages``), else recomputed (about 5 s) and cached when the text
    model or the sentences changed."""
    from tonearm.config import cache_dir

    ref = _read(SHIPPED)
    if ref is not None:
        return ref
    cached = cache_dir() / f"language-means-{_stamp()}.npz"
    ref = _read(cached)
    if ref is None:
        ref = compute_reference()
        with contextlib.suppress(OSError):  # a read-only cache: recompute next time
            _write(cached, ref)
    return ref


def means() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per language: (mean passage vector, mean query vector) of the reference sentences."""
    return reference().means


@cache
def _centred_reference() -> np.ndarray:
    ref = reference()
    langs = [lang for lang, sentences in SENTENCES.items() for _ in sentences]
    return np.concatenate([centred(ref.passages[i : i + 1], lang, "p") for i, lang in enumerate(langs)])


def everyday_scores(query_centred: np.ndarray) -> np.ndarray:
    """How a (centred) query scores against everyday sentences on unrelated topics, in every language.

    A passage that matches the query should score clearly above these: that is library-size
    independent evidence that it is about the query, where "above the library's median" means
    nothing in a library of three talks.
    """
    return _centred_reference() @ query_centred


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / (np.linalg.norm(v) + 1e-9)).astype(np.float32)


def detect_text(text: str, vector: np.ndarray | None = None) -> str | None:
    """The language of a short text (a query): its function words, ties and word-less texts by its vector.

    The vector's nearest language mean alone is right for about 3 queries in 4 on the eval's
    questions, function words for every query that has any; so words decide, the vector breaks ties.
    """
    words = [w.lower() for w in _WORD.findall(text)]
    counts = {lang: sum(w in fw for w in words) for lang, fw in _FUNCTION_WORDS.items()}
    top = max(counts.values())
    tied = [lang for lang, n in counts.items() if n == top]
    if top and len(tied) == 1:
        return tied[0]
    if vector is None:
        return None
    return nearest(vector, "p", tied if top else None)


def nearest(vector: np.ndarray, side: str = "p", among: list[str] | None = None) -> str:
    """The supported language whose mean (passage side ``p`` or query side ``q``) is closest to ``vector``."""
    idx = 0 if side == "p" else 1
    table = means()
    return max(among or list(table), key=lambda lang: float(_unit(table[lang][idx]) @ vector))


# How much of the language mean is removed. 1.0 also removes topic shared by the reference
# sentences; on the eval's spoken-word set (greedy, beam 3/5, float32 transcripts) 0.75 was best
# or tied in every setting (0: EN->ES R@1 3/6; 0.75: 5-6/6; same-language 16-18/18).
CENTRING = 0.75


def centred(vectors: np.ndarray, language: str | None, side: str) -> np.ndarray:
    """Unit vectors with their language's mean removed (unchanged, but unit, when the language is unknown)."""
    v = np.atleast_2d(np.asarray(vectors, np.float32))
    table = means()
    if language in table:
        v = v - CENTRING * table[language][0 if side == "p" else 1]
    return v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-9)


def shifted_query(vector: np.ndarray, source: str, target: str) -> np.ndarray:
    """The query vector moved from its language into ``target``'s (a search 'as if asked in' that language)."""
    table = means()
    return _unit(vector - table[source][1] + table[target][1])


if __name__ == "__main__":  # python -m tonearm.words.languages: rebuild the shipped means
    _write(SHIPPED, compute_reference())
    print(f"wrote {SHIPPED} ({_stamp()})")
