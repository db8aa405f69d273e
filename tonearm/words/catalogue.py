"""Made-up catalogue lines: how much any query scores against a track's tags alone.

An instrumental track's only words are its tags joined into one passage ("Cold Water. Dead
Harbour. Salt. Rock"). E5 scores every query well against text of that shape, whatever the
query asks: on the demo library "a calm piano piece" scored 0.34-0.36 against every chorale
and hornpipe title line, about 0.07 above the everyday-sentence floor that keeps noise out of
``auto``, so those title lines outvoted the tracks the sound tags found playing piano. The
lines below are invented tags of the same shape, across genres and languages; a query's
scores against them are what "a title line that has nothing to do with the query" scores, so
a track whose tags really answer the query ("Goldringlein", "bach chorale", "irish jigs")
must stand clearly above them.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from tonearm.words import embed, languages

LINES: tuple[str, ...] = (
    "Morning Light. Anna Berg. Quiet Rooms. Jazz",
    "Track 04. Unknown Artist. Unknown Album",
    "Symphony No. 5 in C minor, Op. 67: I. Allegro con brio. Berliner Philharmoniker. Beethoven: Symphonies. Classical",
    "Highway Lines. The Rusty Nails. Back Roads. Country",
    "Neon Heart. Kira Vale. Afterglow. Pop",
    "Cold Water. Dead Harbour. Salt. Rock",
    "La noche entera. Los Faroles. Canciones de puerto. Latin",
    "Le temps des cerises. Marie Dubois. Chansons. Chanson",
    "Der Mond ist aufgegangen. Chor der Stadtkirche. Abendlieder. Volkslied",
    "Intro. DJ Metro. Night Shift EP. Electronic",
    "Episode 112: The history of bread. Kitchen Table Talks. Podcast",
    "Blues for Sam. Eddie Clay Trio. Live at the Blue Room. Blues",
    "Skank Street. Roots Unity. Island Days. Reggae",
    "Prelude in E minor. Chopin. Piano Works. Classical",
    "Whiskey Before Breakfast. Fiddle Club. Session Tunes. Folk",
    "Raga Yaman. Pandit R. Evening Ragas. World",
    "Samba de Maré. Grupo Areia. Verão. MPB",
    "Untitled 3. Silent Field. Drift. Ambient",
    "Hold On. Mercy Choir. Sunday Morning. Gospel",
    "Bounce. Lil Tek. Street Tape. Hip-Hop",
    "Canzone del mare. Luca Neri. Estate. Pop italiano",
    "Stille Nacht. Knabenchor. Weihnachten. Christmas",
    "01 - Opening. Various Artists. Soundtrack. Score",
    "Wild Horses Run. Red Canyon. Frontier. Americana",
    "Glass Steps. Mira Okafor. Tides. Soul",
    "Partita No. 2: Chaconne. Solo Violin. Bach: Sonatas and Partitas. Baroque",
    "Long Way Home. Harbor Lights. Demos 2019. Indie",
    "Minuit. Les Ombres. Nocturnes. Electro",
    "Ode to the Sea. Island Brass Band. Parade. Brass",
    "Fado do cais. Rosa Lima. Lisboa. Fado",
)


@cache
def _centred_lines() -> np.ndarray:
    vectors = embed.constant(LINES, "passage")
    return np.concatenate([languages.centred(v, languages.nearest(v, "p"), "p") for v in vectors])


def scores(query_centred: np.ndarray) -> np.ndarray:
    """How a (centred) query scores against the invented catalogue lines (centred as stored passages are)."""
    return _centred_lines() @ query_centred
