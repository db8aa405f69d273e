"""The spoken-word set: short synthetic "podcast episodes" in English and Spanish, with queries.

Scripts are written for tonearm; espeak-ng (several voices, two speeds) and Festival
(``text2wave``, kal_diphone) read them, so the
exact transcript is known (word error rate) and each episode has a query that paraphrases
its content without copying its wording (spoken-word retrieval R@1). Two episodes share each
topic, so "talks like this one" has a right answer too. Deterministic: no randomness.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SPEECH_VERSION = 2  # 2: two Festival-voiced episodes


@dataclass(frozen=True)
class Episode:
    episode_id: str
    topic: str
    lang: str
    voice: str
    script: str
    query: str


EPISODES: tuple[Episode, ...] = (
    Episode("garden-1", "garden", "en", "en-us", "Welcome to the garden hour. Today we grow tomatoes in small pots on a sunny balcony. Water them every morning during a heat wave, and give them a stick to climb.", "watering tomato plants in containers when it is very hot"),
    Episode("garden-2", "garden", "en", "en-gb", "On this week's show we make compost from kitchen scraps and fallen leaves. Turn the heap once a week and keep it as damp as a wrung out sponge.", "turning food waste into fertiliser for the soil"),
    Episode("space-1", "space", "en", "en-us", "This is the astronomy podcast. Tonight we point a small telescope at Jupiter and count its four bright moons as they move from night to night.", "looking at the moons of the largest planet"),
    Episode("space-2", "space", "en", "en-gb+m3", "Our guest explains how rockets reach orbit. The first stage burns for two minutes, then falls away, and the second stage carries the satellite higher.", "how a launch vehicle puts a satellite into orbit"),
    Episode("money-1", "money", "en", "en-us", "Today on the money show we talk about saving for retirement. Put a little aside every month, and let compound interest do the heavy lifting.", "putting money away for when you stop working"),
    Episode("money-2", "money", "en", "en-gb", "We answer your questions about mortgages. A fixed rate costs more at first, but your payment stays the same when interest rates rise.", "choosing a home loan with stable repayments"),
    Episode("health-1", "health", "en", "en-us+f2", "Welcome to the running club. Start with three short runs a week, walk when you need to, and add five minutes each week until you can run for half an hour.", "a beginner plan to build up jogging"),
    Episode("health-2", "health", "en", "en-gb", "Tonight we discuss sleep. Keep the bedroom dark and cool, stop looking at screens an hour before bed, and get up at the same time every day.", "tips for resting better at night"),
    Episode("history-1", "history", "en", "en-us", "In this episode we visit ancient Rome. We walk along the aqueducts that carried fresh water into the city from the hills, many miles away.", "how the Romans brought water to their capital"),
    Episode("history-2", "history", "en", "en-gb+m3", "Today we tell the story of the printing press. Movable type made books cheap, and within fifty years printers worked in every large city of Europe.", "the invention that made books affordable"),
    Episode("cycling-1", "cycling", "en", "festival", "Welcome to the cycling show. This week we fix a flat tyre at the roadside: take the wheel off, find the hole, and patch the inner tube.", "repairing a puncture on a bike"),
    Episode("cycling-2", "cycling", "en", "festival", "Today we plan a long bike tour. Carry two bottles of water, pack a rain jacket, and ride no more than sixty miles a day.", "getting ready for a multi day ride"),
    Episode("cocina-1", "cooking", "es", "es", "Bienvenidos al programa de cocina. Hoy preparamos una tortilla de patatas con cebolla y huevos, y la cocinamos a fuego lento.", "receta de tortilla española con papas"),
    Episode("cocina-2", "cooking", "es", "es+f2", "En el programa de hoy hacemos pan en casa. Mezclamos harina, agua, sal y levadura, y dejamos reposar la masa toda la noche.", "cómo hornear pan casero con levadura"),
    Episode("futbol-1", "football", "es", "es", "Buenas noches y bienvenidos al programa de fútbol. El equipo ganó el partido dos a uno con un gol en el último minuto.", "victoria con un gol al final del partido"),
    Episode("futbol-2", "football", "es", "es-419", "Hablamos del entrenamiento de los porteros. Cada mañana practican saltos, reflejos y salidas por alto durante una hora.", "cómo entrenan los guardametas"),
    Episode("viajes-1", "travel", "es", "es", "En este episodio viajamos a Galicia. Caminamos por la costa, comemos pulpo y visitamos la catedral de Santiago.", "un viaje por el norte de España y su catedral"),
    Episode("viajes-2", "travel", "es", "es-419", "Hoy les contamos cómo viajar barato en tren por Europa. Compren los billetes con tiempo y duerman en albergues.", "consejos para recorrer Europa en tren gastando poco"),
)  # fmt: skip

# Cross-lingual queries: English questions whose answer is a Spanish episode...
CROSS_LINGUAL: tuple[tuple[str, str], ...] = (
    ("a recipe for Spanish potato omelette", "cocina-1"),
    ("baking bread at home with yeast", "cocina-2"),
    ("a last minute goal wins the football match", "futbol-1"),
    ("a trip to Galicia and the cathedral of Santiago", "viajes-1"),
    ("how goalkeepers train their reflexes", "futbol-2"),
    ("travelling cheaply around Europe by train", "viajes-2"),
)
# ... and Spanish questions whose answer is an English episode.
CROSS_LINGUAL_ES_EN: tuple[tuple[str, str], ...] = (
    ("cómo regar las tomateras en macetas cuando hace mucho calor", "garden-1"),
    ("las lunas de Júpiter vistas con un telescopio pequeño", "space-1"),
    ("ahorrar dinero cada mes para la jubilación", "money-1"),
    ("cómo reparar un pinchazo de la bicicleta", "cycling-1"),
    ("consejos para dormir mejor por la noche", "health-2"),
    ("la imprenta hizo los libros baratos", "history-2"),
)


def build_speech(root: Path) -> list[tuple[Episode, Path]]:
    """Render every episode with espeak-ng or Festival (cached); returns (episode, wav path) pairs."""
    espeak, festival = shutil.which("espeak-ng"), shutil.which("text2wave")
    if espeak is None or festival is None:
        raise RuntimeError("espeak-ng and festival are needed (apt-get install espeak-ng festival festvox-kallpc16k)")
    out_dir = root / f"speech-v{SPEECH_VERSION}"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for n, ep in enumerate(EPISODES):
        path = out_dir / f"{ep.episode_id}.wav"
        if not path.exists():
            tmp = path.with_suffix(".tmp.wav")
            if ep.voice == "festival":
                text = path.with_suffix(".txt")
                text.write_text(ep.script)
                subprocess.run([festival, "-o", str(tmp), str(text)], check=True, capture_output=True)
                text.unlink()
            else:
                wpm = ("150", "170")[n % 2]
                subprocess.run([espeak, "-v", ep.voice, "-s", wpm, "-w", str(tmp), ep.script], check=True,
                               capture_output=True)  # fmt: skip
            tmp.replace(path)
        out.append((ep, path))
    return out
