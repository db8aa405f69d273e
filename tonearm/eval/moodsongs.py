"""Mood ranking set: songs with lyrics and popularity, and listeners' sentences naming a feeling.

Written for tonearm (no line is taken from a real song). Eight feelings, one English and one
Spanish song each, plus two very popular "distractor" anthems of feelings nobody asks for, so
that for every feeling a more popular song of another feeling is in the library: ordering by
popularity alone, or a similarity cut that lets other feelings through, puts the wrong songs
first. Each feeling is asked for with two English and two Spanish sentences, none of which
shares a line with the lyrics. ``tonearm eval`` scores hit@1 (the first song is of the asked
feeling) and hit@3 per language; the cut of mood search is calibrated on the separate
:data:`tonearm.eval.moodset.MOOD_SET`, never on this set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MoodSong:
    song_id: str
    lang: str
    feeling: str  # what the song was written to express (None-like "distractor" feelings are never queried)
    popularity: int
    title: str
    lyrics: str


FEELINGS = ("grief", "joy", "anger", "nostalgia", "hope", "fear", "love", "calm")

MOOD_SONGS: tuple[MoodSong, ...] = (
    MoodSong("grief-en", "en", "grief", 41, "Empty Chair",
             "They lowered you down on a Tuesday in the rain\nYour coat still hangs behind the kitchen door\n"
             "I set the table for two and then I cry\nThe flowers on your grave are all I have of you now"),
    MoodSong("grief-es", "es", "grief", 38, "Silla Vacía",
             "Te despedimos en el cementerio del pueblo\nTu ropa sigue doblada en el armario\n"
             "Lloro cada noche desde que te moriste\nSolo me quedan las flores sobre tu tumba"),
    MoodSong("joy-en", "en", "joy", 93, "Sunshine Parade",
             "Wake up, the sun is shining on our street\nEverybody laughing, clapping to the beat\n"
             "I feel so happy I could sing all day\nLife is a celebration, come and play"),
    MoodSong("joy-es", "es", "joy", 91, "Desfile de Sol",
             "Despierta, que el sol brilla en nuestra calle\nTodos se ríen y aplauden sin parar\n"
             "Soy tan feliz que canto todo el día\nLa vida es una fiesta de alegría"),
    MoodSong("anger-en", "en", "anger", 57, "Enough",
             "I'm shouting at the walls, I'm shaking with rage\nYou pushed me too far, now I'm breaking the cage\n"
             "Don't tell me to be quiet, I'm furious tonight\nI'll tear it all apart, I'm ready to fight"),
    MoodSong("anger-es", "es", "anger", 55, "Basta Ya",
             "Le grito a las paredes, tiemblo de furia\nMe empujaste demasiado, ya no aguanto más\n"
             "No me pidas que me calle, estoy furioso\nVoy a romperlo todo, estoy listo para pelear"),
    MoodSong("nostalgia-en", "en", "nostalgia", 63, "Polaroids",
             "Old polaroids of the summers we had\nThe corner shop, the songs on the radio back then\n"
             "I miss those days when we were young and free\nI still remember the way things used to be"),
    MoodSong("nostalgia-es", "es", "nostalgia", 60, "Fotos Viejas",
             "Fotos viejas de aquellos veranos\nLa tienda de la esquina, las canciones de entonces\n"
             "Echo de menos cuando éramos jóvenes\nTodavía recuerdo cómo era todo antes"),
    MoodSong("hope-en", "en", "hope", 77, "Morning Will Come",
             "The night is long but morning will come\nHold on a little, the worst is done\n"
             "I believe tomorrow will be better than today\nThere's a light ahead to show us the way"),
    MoodSong("hope-es", "es", "hope", 74, "Vendrá la Mañana",
             "La noche es larga pero vendrá la mañana\nAguanta un poco, lo peor ya pasó\n"
             "Creo que mañana será mejor que hoy\nHay una luz delante que nos guía"),
    MoodSong("fear-en", "en", "fear", 47, "Something in the Dark",
             "Something is moving in the dark outside\nI hold my breath, there's nowhere I can hide\n"
             "My heart is pounding, I'm so afraid\nFootsteps on the stairs, and the door is not locked"),
    MoodSong("fear-es", "es", "fear", 44, "Algo en la Oscuridad",
             "Algo se mueve en la oscuridad\nContengo el aliento, no me puedo esconder\n"
             "El corazón me late, tengo tanto miedo\nPasos en la escalera y la puerta está abierta"),
    MoodSong("love-en", "en", "love", 85, "Only You",
             "When you look at me I melt inside\nI want to hold you every day and every night\n"
             "You are the one I love, my darling, my heart\nI will stay beside you, we will never be apart"),
    MoodSong("love-es", "es", "love", 82, "Solo Tú",
             "Cuando me miras me derrito por dentro\nQuiero abrazarte cada día y cada noche\n"
             "Eres a quien amo, mi vida, mi corazón\nMe quedaré a tu lado, nunca nos separaremos"),
    MoodSong("calm-en", "en", "calm", 69, "Slow River",
             "Lying by the slow river, the water barely moves\nA soft breeze in the willows, nothing left to prove\n"
             "Breathe in, breathe out, the evening is still\nQuiet and peaceful, resting on the hill"),
    MoodSong("calm-es", "es", "calm", 66, "Río Lento",
             "Tumbado junto al río, el agua apenas se mueve\nUna brisa suave entre los sauces\n"
             "Respira despacio, la tarde está en calma\nTranquilo y en paz, descansando en la colina"),
    # Distractors: the two most popular songs of the library, of feelings no query asks for.
    MoodSong("pride-en", "en", "pride", 100, "Champions",
             "We trained for years and now we stand on top\nLook at the trophy, we are the best\n"
             "Proud of every step, proud of what we built\nWe made it, nobody believed but we did"),
    MoodSong("betrayal-es", "es", "betrayal", 99, "Mentiras",
             "Me juraste amor y me engañaste\nEncontré las cartas de tu otro amante\n"
             "Todo era mentira, me traicionaste\nConfié en ti y me vendiste por nada"),
)  # fmt: skip

# Listeners' sentences: (language, text, feeling).
MOOD_QUERIES: tuple[tuple[str, str, str], ...] = (
    ("en", "my grandmother died last week and I can't stop crying", "grief"),
    ("en", "mourning my best friend, songs for a funeral", "grief"),
    ("en", "I'm so happy today, everything is wonderful", "joy"),
    ("en", "cheerful songs to celebrate a great day", "joy"),
    ("en", "I'm furious, I want to scream and break something", "anger"),
    ("en", "angry music for when I'm mad at everyone", "anger"),
    ("en", "missing the old days of my childhood", "nostalgia"),
    ("en", "remembering the good times when we were young", "nostalgia"),
    ("en", "things will get better, I believe in tomorrow", "hope"),
    ("en", "songs to keep hoping after a hard year", "hope"),
    ("en", "I'm scared and alone in the dark house", "fear"),
    ("en", "terrified, something horrible is coming", "fear"),
    ("en", "I'm madly in love with her", "love"),
    ("en", "romantic songs for my sweetheart", "love"),
    ("en", "peaceful and relaxed, a quiet evening", "calm"),
    ("en", "something tranquil to unwind after work", "calm"),
    ("es", "ha muerto mi perro y estoy muy triste", "grief"),
    ("es", "canciones para el funeral de mi padre", "grief"),
    ("es", "hoy estoy muy feliz, todo me sale bien", "joy"),
    ("es", "canciones alegres para celebrar", "joy"),
    ("es", "estoy furioso, quiero gritar y romper algo", "anger"),
    ("es", "música rabiosa para cuando estoy enfadado con todos", "anger"),
    ("es", "echo de menos los tiempos de mi infancia", "nostalgia"),
    ("es", "recordando los buenos tiempos cuando éramos jóvenes", "nostalgia"),
    ("es", "todo va a mejorar, creo en el mañana", "hope"),
    ("es", "canciones para no perder la esperanza después de un año duro", "hope"),
    ("es", "tengo miedo, estoy solo en la casa a oscuras", "fear"),
    ("es", "aterrorizado, algo horrible se acerca", "fear"),
    ("es", "estoy locamente enamorado de ella", "love"),
    ("es", "canciones románticas para mi novia", "love"),
    ("es", "tranquilo y relajado, una tarde en paz", "calm"),
    ("es", "algo sereno para descansar después del trabajo", "calm"),
)

# Sentences that express no feeling: mood search must say so instead of listing popular songs.
NEUTRAL_QUERIES: tuple[str, ...] = (
    "the train to the airport leaves at nine",
    "the invoice number is on the second page",
    "el autobús sale de la estación a las ocho",
    "la factura está en la segunda página",
)


def write_song_library(folder: Path, songs: Sequence[MoodSong] = MOOD_SONGS) -> list[Path]:
    """Write each song as a short tone (FLAC) with its lyrics beside it (``.txt``) and a ``tracks.csv``
    carrying title and popularity, as a user's tagged library would; returns the audio paths."""
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    sr, paths = 22050, []
    rows = ["file,title,popularity"]
    for n, song in enumerate(songs):
        t = np.arange(int(sr * 2.0)) / sr
        tone = 0.2 * np.sin(2 * np.pi * (220.0 + 15.0 * n) * t) * np.minimum(1.0, 10 * t)
        path = folder / f"{song.song_id}.flac"
        sf.write(path, tone.astype(np.float32), sr)
        (folder / f"{song.song_id}.txt").write_text(song.lyrics + "\n", encoding="utf-8")
        rows.append(f'{path.name},"{song.title}",{song.popularity}')
        paths.append(path)
    (folder / "tracks.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return paths
