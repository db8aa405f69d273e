"""Mood sanity set: short lyric-like texts in English and Spanish with the emotions they express.

Written for tonearm (not taken from any song). Each text has one or two expected terms of
the controlled vocabulary; a mood backend passes an item when an expected term is among the
emotions it assigns (hit@3) and is ranked first (hit@1). It is a sanity check of the
backends, not a psychological benchmark.
"""

from __future__ import annotations

MOOD_SET: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("en", "I keep your letters in a box under the bed, and every night I read them and cry", ("sadness", "grief", "heartbreak", "longing")),
    ("en", "You swore you'd never lie to me, then I found the messages on your phone", ("betrayal", "jealousy", "anger")),
    ("en", "Tonight we dance until the sun comes up, hands in the air, nothing can stop us", ("euphoria", "excitement", "joy")),
    ("en", "The house is empty since you went away, I talk to the walls and nobody answers", ("loneliness", "sadness", "longing")),
    ("en", "Tomorrow the clouds will open and we will walk in the light again", ("hope",)),
    ("en", "Smash the windows, burn it all down, I am so sick of your rules", ("rage", "anger", "defiance")),
    ("en", "Lying in the grass, the river slowly flowing, not a single worry in my mind", ("calm", "peace")),
    ("en", "Do you remember the summers of our childhood, riding bikes to the old cinema", ("nostalgia",)),
    ("en", "My hands are shaking, I can't sleep, what if everything goes wrong tomorrow", ("anxiety", "fear")),
    ("en", "I should have called you back that night, now it's too late to say I'm sorry", ("regret", "guilt")),
    ("en", "Thank you for every morning you stood by me, I owe you everything I am", ("gratitude", "love")),
    ("en", "When you hold my hand the whole world disappears and I am home", ("love", "tenderness")),
    ("en", "They told me I would never make it, look at me now standing on this stage", ("pride", "confidence", "determination")),
    ("en", "Footsteps in the dark hallway, something is breathing behind the door", ("fear",)),
    ("en", "We buried him on a cold grey morning and the church bells rang for hours", ("grief", "sadness")),
    ("es", "Guardo tus cartas en una caja y cada noche las leo y lloro", ("sadness", "grief", "heartbreak", "longing")),
    ("es", "Juraste que nunca me mentirías y encontré los mensajes en tu teléfono", ("betrayal", "jealousy", "anger")),
    ("es", "Esta noche bailamos hasta que salga el sol, nada nos puede parar", ("euphoria", "excitement", "joy")),
    ("es", "La casa está vacía desde que te fuiste, hablo con las paredes y nadie contesta", ("loneliness", "sadness", "longing")),
    ("es", "Mañana se abrirán las nubes y volveremos a caminar bajo la luz", ("hope",)),
    ("es", "Rompe las ventanas, quémalo todo, estoy harto de tus reglas", ("rage", "anger", "defiance")),
    ("es", "Tumbado en la hierba, el río corre despacio, ni una sola preocupación", ("calm", "peace")),
    ("es", "¿Te acuerdas de los veranos de nuestra infancia, en bici hasta el viejo cine?", ("nostalgia",)),
    ("es", "Me tiemblan las manos, no puedo dormir, ¿y si mañana todo sale mal?", ("anxiety", "fear")),
    ("es", "Debí devolverte la llamada esa noche, ahora es tarde para pedir perdón", ("regret", "guilt")),
    ("es", "Gracias por cada mañana que estuviste a mi lado, te lo debo todo", ("gratitude", "love")),
    ("es", "Cuando me tomas de la mano el mundo desaparece y estoy en casa", ("love", "tenderness")),
    ("es", "Me dijeron que nunca lo lograría, mírame ahora en este escenario", ("pride", "confidence", "determination")),
    ("es", "Pasos en el pasillo oscuro, algo respira detrás de la puerta", ("fear",)),
    ("es", "Lo enterramos una mañana fría y gris y las campanas sonaron durante horas", ("grief", "sadness")),
)  # fmt: skip
