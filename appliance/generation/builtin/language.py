"""Languages of the built-in solver: detection, request words and narration.

Request words are matched on folded text (lower case, accents removed, see
``parse.fold``) by prefix, so one stem covers a word's forms: "deriv" matches
derivative, derivada, dérivée and dériver. Narration is one table of phrases,
one column per language; a missing phrase is a bug the unit tests catch.
"""

from __future__ import annotations

import re

import sympy

from appliance.generation.builtin.parse import fold

LANGUAGES = ("en", "es", "ru", "de", "fr")
DEFAULT_LANGUAGE = "en"

# Request words by request kind, as folded stems. Order matters where stems
# overlap: "antiderivative" is an integral, so integrals are looked for first.
REQUEST_STEMS: dict[str, tuple[str, ...]] = {
    "integral": ("integr", "интегр", "antideriv", "primitiv", "первообразн", "stammfunktion"),
    "derivative": ("deriv", "differenti", "дифференц", "производн", "ableit", "leite"),
    "limit": ("limit", "предел", "grenzwert", "limes"),
    "simplify": ("simplif", "упрост", "vereinfach", "сократи"),
    "expand": ("expand", "expande", "desarroll", "раскр", "multipliziere aus", "ausmultipli", "developp"),
    "factor": ("factor", "разлож", "faktoris", "faktorzerleg"),
    "plot": ("plot", "graph", "draw", "sketch", "grafic", "dibuja", "traza", "построй", "нарисуй", "график",
             "zeichne", "skizz", "trace", "courbe", "represente",
             # the vertex or the extrema of a function: the plot works them out and marks them
             "vertex", "vertice", "вершин", "scheitel", "sommet", "extrem", "экстремум"),
    "roots": ("root", "zeros", "raices", "корн", "nullstell", "racine"),
    "solve": ("solve", "resuelv", "resolv", "реши", "решите", "lose", "loes", "resou", "resolu", "find x",
              "halla", "найди x", "bestimme x", "trouve x"),
    "area": ("area", "площад", "flache", "flacheninhalt", "aire", "superficie"),
    "perimeter": ("perimet", "периметр", "umfang", "circumference", "длина окружности", "longitud de la circ"),
    "hypotenuse": ("hypoten", "hipoten", "гипотенуз"),
    "leg": ("legs", "leg ", "catet", "катет", "kathete", "cathete"),
    "pythagoras": ("pythag", "pitagor", "пифагор"),
    "right_triangle": ("right triangle", "right-angled", "right angled", "triangulo rectangulo",
                       "прямоугольн треугольник", "прямоугольного треугольника", "прямоугольный треугольник",
                       "rechtwinklig", "triangle rectangle"),
    "second": ("second", "segunda", "втор", "zweite", "seconde"),
    # Proofs, "explain why" and definitions: not a computation, so never reduced to one.
    # (Not "defin" alone: "definite integral", "integral definida" are computations.)
    "proof": ("prove", "proof", "show that", "show, that", "explain why", "why ", "define ", "definition",
              "demuestr", "demostr", "prueba que", "muestra que", "explica por que", "por que ", "defina ",
              "definicion", "докаж", "доказат", "покажи, что", "покажите, что", "объясни почему",
              "объясните почему", "почему", "дай определение", "определение", "beweis", "zeige, dass",
              "zeige dass", "zeigen sie, dass", "erklare warum", "warum", "definiere", "demontr", "prouve",
              "prouver", "montre que", "montrez que", "explique pourquoi", "pourquoi", "definis "),
}

SHAPE_STEMS: dict[str, tuple[str, ...]] = {
    "triangle": ("triang", "треугольн", "dreieck"),
    "circle": ("circle", "circulo", "круг", "окружн", "kreis", "cercle", "disque", "disk"),
    "rectangle": ("rectang", "прямоугольник", "rechteck"),
    "square": ("square", "cuadrado", "квадрат", "quadrat", "carre"),
}

DIMENSION_STEMS: dict[str, tuple[str, ...]] = {
    "radius": ("radius", "radio", "радиус", "rayon"),
    "diameter": ("diamet", "диаметр", "durchmesser"),
    "width": ("width", "wide", "ancho", "ширин", "breit", "largeur"),
    "length": ("length", "long", "largo", "longitud", "длин", "lange", "longueur"),
    "height": ("height", "high", "tall", "altura", "высот", "hohe", "hauteur"),
    "base": ("base", "основан", "grundseite", "basis"),
    "side": ("side", "lado", "сторон", "seite", "cote"),
}

# Words that only one language uses (weight 2) or that a few share (weight 1).
_LANGUAGE_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("solve", "find", "the", "what", "derivative", "simplify", "expand", "plot", "graph", "compute",
            "calculate", "evaluate", "of", "and", "is", "with", "area", "circle", "radius", "width", "length",
            "roots", "respect", "limit", "approaches", "how", "legs", "equation", "inequality", "system",
            "right", "triangle", "rectangle", "square", "has", "its", "integrate", "differentiate", "sketch",
            "draw", "factorize"),
           ("integral", "factor", "determine")),
    "es": (("resuelve", "resolver", "calcula", "derivada", "limite", "simplifica", "expande", "factoriza",
            "grafica", "cual", "cuanto", "el", "del", "es", "una", "un", "ecuacion", "sistema", "halla",
            "encuentra", "circulo", "radio", "catetos", "cateto", "hipotenusa", "tiende", "que", "los", "las",
            "desarrolla", "dibuja", "raices", "rectangulo", "triangulo", "cuadrado", "ancho", "largo", "mide",
            "integra", "deriva", "calcular", "determina", "grafique", "resuelva"),
           ("de", "la", "area", "integral", "con", "base", "altura")),
    "de": (("lose", "berechne", "die", "der", "das", "und", "ist", "von", "ableitung", "vereinfache",
            "zeichne", "gleichung", "flache", "flacheninhalt", "kreis", "mit", "ein", "eine", "einem",
            "bestimme", "finde", "grenzwert", "faktorisiere", "multipliziere", "aus", "nullstellen", "gegen",
            "wie", "gross", "katheten", "rechteck", "dreieck", "breite", "hohe", "lange", "bis", "ungleichung",
            "gleichungssystem", "leite", "ab", "radius", "integral", "fur", "vereinfachen", "integriere",
            "differenziere", "zerlege", "skizziere", "ermittle", "berechnen", "lose"),
           ("limes", "hypotenuse")),
    "fr": (("resous", "resoudre", "calcule", "calculez", "derivee", "integrale", "le", "les", "du", "des",
            "et", "est", "une", "quelle", "aire", "cercle", "rayon", "simplifie", "developpe", "factorise",
            "trace", "equation", "trouve", "quand", "tend", "vers", "rectangle", "largeur", "longueur",
            "hauteur", "cote", "cotes", "inequation", "systeme", "racines", "fonction", "sur", "entre",
            "combien", "font", "quel", "quels", "vaut", "fait", "fois", "moins", "calculer", "donne", "integre",
            "derivez", "integrez", "resolvez", "simplifiez", "developpez", "factorisez"),
           ("la", "de", "limite", "un", "hypotenuse", "base", "triangle", "derive", "determine")),
}

_ACCENT_HINTS = {
    "es": "ñ¿¡áíóú",
    "de": "äöüß",
    "fr": "èêàçëîôûœ",
}

PHRASES: dict[str, dict[str, str]] = {}


def _phrase(key: str, en: str, es: str, ru: str, de: str, fr: str) -> None:
    PHRASES[key] = {"en": en, "es": es, "ru": ru, "de": de, "fr": fr}


# -- titles -------------------------------------------------------------------------------------
_phrase("title.linear_equation", "Solving a linear equation", "Resolvemos la ecuación lineal",
        "Решаем линейное уравнение", "Wir lösen die lineare Gleichung", "Résolvons l'équation linéaire")
_phrase("title.quadratic_equation", "Solving a quadratic equation", "Resolvemos la ecuación cuadrática",
        "Решаем квадратное уравнение", "Wir lösen die quadratische Gleichung",
        "Résolvons l'équation du second degré")
_phrase("title.equation", "Solving an equation", "Resolvemos la ecuación", "Решаем уравнение",
        "Wir lösen die Gleichung", "Résolvons l'équation")
_phrase("title.linear_system", "Solving a system of equations", "Resolvemos el sistema de ecuaciones",
        "Решаем систему уравнений", "Wir lösen das Gleichungssystem", "Résolvons le système d'équations")
_phrase("title.inequality", "Solving an inequality", "Resolvemos la desigualdad", "Решаем неравенство",
        "Wir lösen die Ungleichung", "Résolvons l'inéquation")
_phrase("title.derivative", "Finding the derivative", "Calculamos la derivada", "Находим производную",
        "Wir bestimmen die Ableitung", "Calculons la dérivée")
_phrase("title.second_derivative", "Finding the second derivative", "Calculamos la segunda derivada",
        "Находим вторую производную", "Wir bestimmen die zweite Ableitung", "Calculons la dérivée seconde")
_phrase("title.indefinite_integral", "Computing the indefinite integral", "Calculamos la integral indefinida",
        "Находим неопределённый интеграл", "Wir berechnen das unbestimmte Integral",
        "Calculons l'intégrale indéfinie")
_phrase("title.definite_integral", "Computing the definite integral", "Calculamos la integral definida",
        "Вычисляем определённый интеграл", "Wir berechnen das bestimmte Integral",
        "Calculons l'intégrale définie")
_phrase("title.limit", "Finding the limit", "Calculamos el límite", "Находим предел",
        "Wir bestimmen den Grenzwert", "Calculons la limite")
_phrase("title.simplify", "Simplifying the expression", "Simplificamos la expresión", "Упрощаем выражение",
        "Wir vereinfachen den Term", "Simplifions l'expression")
_phrase("title.expand", "Expanding the expression", "Desarrollamos la expresión", "Раскрываем скобки",
        "Wir multiplizieren aus", "Développons l'expression")
_phrase("title.factor", "Factoring the expression", "Factorizamos la expresión", "Раскладываем на множители",
        "Wir faktorisieren den Term", "Factorisons l'expression")
_phrase("title.arithmetic", "Calculating step by step", "Calculamos paso a paso", "Вычисляем по шагам",
        "Wir rechnen Schritt für Schritt", "Calculons pas à pas")
_phrase("title.percent", "Finding a percentage", "Calculamos el porcentaje", "Находим процент от числа",
        "Wir berechnen den Prozentwert", "Calculons le pourcentage")
_phrase("title.plot", "Graphing the function", "Graficamos la función", "Строим график функции",
        "Wir zeichnen den Graphen", "Traçons la courbe de la fonction")
_phrase("title.pythagorean", "The Pythagorean theorem", "El teorema de Pitágoras", "Теорема Пифагора",
        "Der Satz des Pythagoras", "Le théorème de Pythagore")
_phrase("title.perimeter.circle", "Circumference of a circle", "Longitud de la circunferencia", "Длина окружности",
        "Umfang des Kreises", "Périmètre du cercle")
_phrase("title.perimeter.rectangle", "Perimeter of a rectangle", "Perímetro del rectángulo",
        "Периметр прямоугольника", "Umfang des Rechtecks", "Périmètre du rectangle")
_phrase("title.perimeter.square", "Perimeter of a square", "Perímetro del cuadrado", "Периметр квадрата",
        "Umfang des Quadrats", "Périmètre du carré")
_phrase("perimeter_formula", "Start from the perimeter formula", "Partimos de la fórmula del perímetro",
        "Записываем формулу периметра", "Wir schreiben die Formel für den Umfang auf",
        "Partons de la formule du périmètre")
_phrase("circumference_formula", "Start from the circumference formula",
        "Partimos de la fórmula de la longitud de la circunferencia", "Записываем формулу длины окружности",
        "Wir schreiben die Formel für den Kreisumfang auf", "Partons de la formule du périmètre du cercle")
_phrase("title.area.circle", "Area of a circle", "Área del círculo", "Площадь круга",
        "Flächeninhalt des Kreises", "Aire du disque")
_phrase("title.area.rectangle", "Area of a rectangle", "Área del rectángulo", "Площадь прямоугольника",
        "Flächeninhalt des Rechtecks", "Aire du rectangle")
_phrase("title.area.square", "Area of a square", "Área del cuadrado", "Площадь квадрата",
        "Flächeninhalt des Quadrats", "Aire du carré")
_phrase("title.area.triangle", "Area of a triangle", "Área del triángulo", "Площадь треугольника",
        "Flächeninhalt des Dreiecks", "Aire du triangle")
# -- common --------------------------------------------------------------------------------------
_phrase("answer", "Answer", "Respuesta", "Ответ", "Antwort", "Réponse")
_phrase("answer.derivative", "the derivative is {formula}", "la derivada es {formula}", "производная равна {formula}",
        "die Ableitung ist {formula}", "la dérivée est {formula}")
_phrase("answer.second_derivative", "the second derivative is {formula}", "la segunda derivada es {formula}",
        "вторая производная равна {formula}", "die zweite Ableitung ist {formula}",
        "la dérivée seconde est {formula}")
_phrase("answer.antiderivative", "an antiderivative is {formula}, plus C", "una primitiva es {formula}, más C",
        "первообразная равна {formula}, плюс C", "eine Stammfunktion ist {formula}, plus C",
        "une primitive est {formula}, plus C")
_phrase("graph", "On the graph", "En la gráfica", "На графике", "Am Graphen", "Sur le graphique")
_phrase("figure_points", "The marked points are the ones we found", "Los puntos marcados son los que hemos encontrado",
        "Отмеченные точки мы и нашли", "Die markierten Punkte haben wir gefunden",
        "Les points marqués sont ceux que nous avons trouvés")
_phrase("figure", "Here is the figure", "Aquí está la figura", "Вот рисунок", "Hier ist die Figur", "Voici la figure")
_phrase("result", "This is the result", "Este es el resultado", "Это и есть результат", "Das ist das Ergebnis",
        "Voici le résultat")
_phrase("no_solution", "no solution", "no tiene solución", "решений нет", "keine Lösung", "pas de solution")
_phrase("no_real_solution", "no real solution", "no tiene solución real", "действительных решений нет",
        "keine reelle Lösung", "pas de solution réelle")
_phrase("all_reals", "all real numbers", "todos los números reales", "любое действительное число",
        "alle reellen Zahlen", "tous les nombres réels")
_phrase("infinite", "infinitely many solutions", "infinitas soluciones", "бесконечно много решений",
        "unendlich viele Lösungen", "une infinité de solutions")
_phrase("dne", "the limit does not exist", "el límite no existe", "предел не существует",
        "der Grenzwert existiert nicht", "la limite n'existe pas")
_phrase("or", "or", "o", "или", "oder", "ou")
# -- spoken numbers ------------------------------------------------------------------------------
_phrase("fraction_spoken", "{p} over {q}", "{p} entre {q}", "{p}, делённое на {q}", "{p} durch {q}", "{p} sur {q}")
_phrase("squared_spoken", "{var} squared", "{var} al cuadrado", "{var} в квадрате", "{var} Quadrat", "{var} au carré")
# -- equations -----------------------------------------------------------------------------------
_phrase("expand_both", "Expand the brackets on both sides", "Quitamos los paréntesis en ambos lados",
        "Раскрываем скобки в обеих частях", "Wir multiplizieren beide Seiten aus", "Développons les deux membres")
_phrase("swap_sides", "Swap the two sides, so that {var} is on the left",
        "Intercambiamos los lados para tener {var} a la izquierda", "Меняем части местами, чтобы {var} был слева",
        "Wir vertauschen die Seiten, damit {var} links steht",
        "Échangeons les deux membres pour avoir {var} à gauche")
_phrase("subtract_both", "Subtract {a} from both sides", "Restamos {a} en ambos lados", "Вычитаем {a} из обеих частей",
        "Wir subtrahieren {a} auf beiden Seiten", "Soustrayons {a} aux deux membres")
_phrase("add_both", "Add {a} to both sides", "Sumamos {a} en ambos lados", "Прибавляем {a} к обеим частям",
        "Wir addieren {a} auf beiden Seiten", "Ajoutons {a} aux deux membres")
_phrase("collect", "Terms with {var} to the left, numbers to the right",
        "Términos con {var} a la izquierda, números a la derecha",
        "Слагаемые с {var} влево, числа вправо", "Terme mit {var} nach links, Zahlen nach rechts",
        "Termes en {var} à gauche, nombres à droite")
_phrase("simplify_sides", "Simplify each side", "Simplificamos cada lado", "Упрощаем каждую часть",
        "Wir fassen jede Seite zusammen", "Simplifions chaque membre")
_phrase("divide", "Divide both sides by {a} to get {var} alone",
        "Dividimos ambos lados entre {a} para despejar {var}", "Делим обе части на {a}, чтобы найти {var}",
        "Wir teilen beide Seiten durch {a}, um {var} freizustellen",
        "Divisons les deux membres par {a} pour isoler {var}")
_phrase("divide_coefficient", "Divide both sides by the number in front of {var}",
        "Dividimos ambos lados entre el coeficiente de {var}", "Делим обе части на коэффициент при {var}",
        "Wir teilen beide Seiten durch den Faktor vor {var}",
        "Divisons les deux membres par le coefficient de {var}")
_phrase("multiply_both", "Multiply both sides by {a} to get {var} alone",
        "Multiplicamos ambos lados por {a} para despejar {var}", "Умножаем обе части на {a}, чтобы найти {var}",
        "Wir multiplizieren beide Seiten mit {a}, um {var} freizustellen",
        "Multiplions les deux membres par {a} pour isoler {var}")
_phrase("flip", "Dividing by a negative number flips the sign",
        "Al dividir entre un número negativo, el signo cambia de sentido",
        "При делении на отрицательное число знак меняется", "Teilen durch eine negative Zahl dreht das Zeichen um",
        "Diviser par un nombre négatif change le sens du signe")
_phrase("flip_multiply", "Multiplying by a negative number flips the sign",
        "Al multiplicar por un número negativo, el signo cambia de sentido",
        "При умножении на отрицательное число знак меняется",
        "Multiplizieren mit einer negativen Zahl dreht das Zeichen um",
        "Multiplier par un nombre négatif change le sens du signe")
_phrase("solved", "That leaves {var} on its own", "Así queda {var} despejada", "Так мы нашли {var}",
        "Damit steht {var} allein", "Il ne reste que {var}")
_phrase("check_back", "Check: put the solution back into the equation. Both sides agree",
        "Comprobación: sustituimos la solución en la ecuación. Ambos lados coinciden",
        "Проверка: подставляем решение в уравнение. Обе части равны",
        "Probe: Wir setzen die Lösung in die Gleichung ein. Beide Seiten stimmen überein",
        "Vérification : remplaçons la solution dans l'équation. Les deux membres sont égaux")
_phrase("check_each", "Check: put each root back into the equation. Both sides agree",
        "Comprobación: sustituimos cada raíz en la ecuación. Ambos lados coinciden",
        "Проверка: подставляем каждый корень в уравнение. Обе части равны",
        "Probe: Wir setzen jede Lösung in die Gleichung ein. Beide Seiten stimmen überein",
        "Vérification : remplaçons chaque racine dans l'équation. Les deux membres sont égaux")
_phrase("identity", "Both sides are always equal: every number is a solution",
        "Ambos lados siempre son iguales: todo número es solución",
        "Обе части всегда равны: подходит любое число", "Beide Seiten sind immer gleich: jede Zahl ist Lösung",
        "Les deux membres sont toujours égaux : tout nombre est solution")
_phrase("contradiction", "This is a false statement: no solution",
        "Es una igualdad falsa: no tiene solución", "Получилось неверное равенство: решений нет",
        "Das ist eine falsche Aussage: keine Lösung", "C'est une égalité fausse : pas de solution")
_phrase("move_all", "Subtract the right side from both sides, so that zero is on the right",
        "Restamos el lado derecho en ambos lados para dejar cero a la derecha",
        "Вычитаем правую часть из обеих частей, чтобы справа остался ноль",
        "Wir subtrahieren die rechte Seite auf beiden Seiten, damit rechts null steht",
        "Soustrayons le membre de droite des deux côtés pour avoir zéro à droite")
_phrase("expand_collect", "Expand and collect like terms", "Desarrollamos y reducimos términos semejantes",
        "Раскрываем скобки и приводим подобные слагаемые", "Wir multiplizieren aus und fassen zusammen",
        "Développons et regroupons les termes semblables")
_phrase("negate", "Multiply both sides by -1 to make the first coefficient positive",
        "Multiplicamos ambos lados por -1 para que el primer coeficiente sea positivo",
        "Умножаем обе части на -1, чтобы старший коэффициент стал положительным",
        "Wir multiplizieren beide Seiten mit -1, damit der erste Koeffizient positiv wird",
        "Multiplions les deux membres par -1 pour rendre le premier coefficient positif")
_phrase("undo_log", "Undo the logarithm: raise e to the power of each side",
        "Deshacemos el logaritmo: elevamos e a cada lado",
        "Избавляемся от логарифма: возводим e в степень каждой части",
        "Wir heben den Logarithmus auf: e hoch beide Seiten",
        "Supprimons le logarithme : élevons e à la puissance de chaque membre")
_phrase("factor_poly", "Factor the left side", "Factorizamos el lado izquierdo",
        "Раскладываем левую часть на множители", "Wir faktorisieren die linke Seite",
        "Factorisons le membre de gauche")
_phrase("two_numbers", "We need two numbers with product {p} and sum {s}. They are {m} and {n}",
        "Buscamos dos números con producto {p} y suma {s}. Son {m} y {n}",
        "Ищем два числа с произведением {p} и суммой {s}. Это {m} и {n}",
        "Wir suchen zwei Zahlen mit Produkt {p} und Summe {s}. Es sind {m} und {n}",
        "Cherchons deux nombres de produit {p} et de somme {s}. Ce sont {m} et {n}")
_phrase("factors_from_numbers", "These two numbers give the two brackets", "Estos dos números dan los dos factores",
        "Эти два числа дают два множителя", "Diese zwei Zahlen ergeben die beiden Klammern",
        "Ces deux nombres donnent les deux facteurs")
_phrase("zero_product", "A product is zero when one of its factors is zero",
        "Un producto es cero si uno de sus factores es cero",
        "Произведение равно нулю, когда один из множителей равен нулю",
        "Ein Produkt ist null, wenn ein Faktor null ist", "Un produit est nul si l'un de ses facteurs est nul")
_phrase("each_root", "Solve each of these simple equations", "Resolvemos cada una de estas ecuaciones sencillas",
        "Решаем каждое из этих простых уравнений", "Wir lösen jede dieser einfachen Gleichungen",
        "Résolvons chacune de ces équations simples")
_phrase("common_x", "Take {var} out as a common factor", "Sacamos {var} como factor común", "Выносим {var} за скобки",
        "Wir klammern {var} aus", "Mettons {var} en facteur")
_phrase("coefficients", "Read off the coefficients a, b and c", "Identificamos los coeficientes a, b y c",
        "Выписываем коэффициенты a, b и c", "Wir lesen die Koeffizienten a, b und c ab",
        "Relevons les coefficients a, b et c")
_phrase("discriminant", "Compute the discriminant: b squared minus 4 a c",
        "Calculamos el discriminante: b al cuadrado menos 4 a c",
        "Вычисляем дискриминант: b в квадрате минус 4 a c",
        "Wir berechnen die Diskriminante: b Quadrat minus 4 a c",
        "Calculons le discriminant : b au carré moins 4 a c")
_phrase("formula_two", "The discriminant is positive, so there are two roots. Put the numbers into the formula",
        "El discriminante es positivo: hay dos raíces. Sustituimos los números en la fórmula",
        "Дискриминант положителен, значит корней два. Подставляем числа в формулу",
        "Die Diskriminante ist positiv, also gibt es zwei Lösungen. Wir setzen in die Formel ein",
        "Le discriminant est positif : il y a deux racines. Appliquons la formule")
_phrase("both_signs", "Work out the two roots, one with each sign", "Calculamos las dos raíces, una con cada signo",
        "Находим оба корня: с минусом и с плюсом", "Wir berechnen beide Lösungen, je eine mit jedem Vorzeichen",
        "Calculons les deux racines, une avec chaque signe")
_phrase("double_root", "The discriminant is zero: one double root", "El discriminante es cero: una raíz doble",
        "Дискриминант равен нулю: один корень", "Die Diskriminante ist null: eine doppelte Lösung",
        "Le discriminant est nul : une racine double")
_phrase("no_real_roots", "The discriminant is negative: no real roots",
        "El discriminante es negativo: no hay raíces reales", "Дискриминант отрицателен: действительных корней нет",
        "Die Diskriminante ist negativ: keine reellen Lösungen", "Le discriminant est négatif : pas de racine réelle")
_phrase("check_vieta", "Check with Vieta: the roots add up to minus b over a and multiply to c over a",
        "Comprobamos con Vieta: la suma de las raíces es menos b entre a y el producto, c entre a",
        "Проверка по теореме Виета: сумма корней равна минус b на a, произведение равно c на a",
        "Probe mit Vieta: Die Summe der Lösungen ist minus b durch a, das Produkt c durch a",
        "Vérifions avec Viète : la somme des racines vaut moins b sur a, le produit c sur a")
_phrase("square_root_both", "Take the square root of both sides. A positive number has two square roots",
        "Sacamos la raíz cuadrada de ambos lados. Un número positivo tiene dos raíces",
        "Извлекаем корень из обеих частей. У положительного числа два квадратных корня",
        "Wir ziehen auf beiden Seiten die Wurzel. Eine positive Zahl hat zwei Wurzeln",
        "Prenons la racine carrée des deux membres. Un nombre positif a deux racines carrées")
_phrase("square_zero", "Only zero squared gives zero", "Solo el cero al cuadrado da cero",
        "В квадрате ноль даёт только ноль", "Nur null zum Quadrat ergibt null", "Seul zéro au carré donne zéro")
_phrase("square_negative", "A square is never negative, so there is no real solution",
        "Un cuadrado nunca es negativo: no hay solución real",
        "Квадрат не бывает отрицательным: действительных решений нет",
        "Ein Quadrat ist nie negativ: keine reelle Lösung", "Un carré n'est jamais négatif : pas de solution réelle")
_phrase("rational_root", "Try the divisors of {c}. The left side is zero when {var} is {r}",
        "Probamos los divisores de {c}. El lado izquierdo vale cero cuando {var} es {r}",
        "Перебираем делители числа {c}. Левая часть равна нулю при {var}, равном {r}",
        "Wir probieren die Teiler von {c}. Für {var} gleich {r} ist die linke Seite null",
        "Essayons les diviseurs de {c}. Le membre de gauche s'annule pour {var} égal à {r}")
_phrase("divide_out", "So this root gives a factor. Divide it out", "Esta raíz da un factor. Dividimos entre él",
        "Значит, этот корень даёт множитель. Делим на него",
        "Diese Nullstelle liefert einen Linearfaktor. Wir dividieren ihn heraus",
        "Cette racine donne un facteur. Divisons par ce facteur")
_phrase("clear_denominator", "Multiply both sides by the denominator. It must not be zero",
        "Multiplicamos ambos lados por el denominador, que no puede ser cero",
        "Умножаем обе части на знаменатель. Он не может быть равен нулю",
        "Wir multiplizieren beide Seiten mit dem Nenner. Er darf nicht null sein",
        "Multiplions les deux membres par le dénominateur, qui ne doit pas être nul")
_phrase("excluded", "A value that makes a denominator zero is not a solution",
        "Un valor que anula un denominador no es solución", "Значение, при котором знаменатель равен нулю, не подходит",
        "Ein Wert, der einen Nenner null macht, ist keine Lösung",
        "Une valeur qui annule un dénominateur n'est pas une solution")
_phrase("square_both", "Square both sides to remove the root", "Elevamos ambos lados al cuadrado para quitar la raíz",
        "Возводим обе части в квадрат, чтобы избавиться от корня",
        "Wir quadrieren beide Seiten, um die Wurzel zu entfernen",
        "Élevons les deux membres au carré pour supprimer la racine")
_phrase("check_squared", "Squaring can add false roots, so check each one in the original equation",
        "Al elevar al cuadrado pueden aparecer raíces falsas: comprobamos cada una",
        "Возведение в квадрат может дать посторонние корни, поэтому проверяем каждый",
        "Quadrieren kann falsche Lösungen erzeugen, also prüfen wir jede in der Gleichung",
        "Élever au carré peut ajouter de fausses racines : vérifions chacune")
_phrase("same_base", "Write both sides as powers of {b}", "Escribimos ambos lados como potencias de {b}",
        "Записываем обе части как степени числа {b}", "Wir schreiben beide Seiten als Potenzen von {b}",
        "Écrivons les deux membres comme puissances de {b}")
_phrase("take_log", "Take the logarithm of both sides", "Tomamos logaritmos en ambos lados",
        "Логарифмируем обе части", "Wir logarithmieren beide Seiten", "Prenons le logarithme des deux membres")
_phrase("equal_exponents", "The bases are equal, so the exponents are equal",
        "Las bases son iguales, así que los exponentes también", "Основания равны, значит, равны и показатели",
        "Gleiche Basen, also gleiche Exponenten", "Les bases sont égales, donc les exposants aussi")
_phrase("roots_on_graph", "The roots are where the graph crosses the x-axis",
        "Las raíces son los cortes de la gráfica con el eje x", "Корни — точки пересечения графика с осью x",
        "Die Lösungen sind die Schnittpunkte mit der x-Achse",
        "Les racines sont les points où la courbe coupe l'axe des x")
_phrase("no_roots_on_graph", "The graph never crosses the x-axis", "La gráfica nunca corta el eje x",
        "График не пересекает ось x", "Der Graph schneidet die x-Achse nie", "La courbe ne coupe jamais l'axe des x")
_phrase("intersection_on_graph", "The solution is where the two graphs meet",
        "La solución es donde se cortan las dos gráficas", "Решение — точка пересечения графиков",
        "Die Lösung ist der Schnittpunkt der Graphen", "La solution est l'intersection des deux courbes")
_phrase("numerator_zero", "The numerator must be zero and the denominator must not",
        "El numerador debe ser cero y el denominador no", "Числитель равен нулю, а знаменатель не равен нулю",
        "Der Zähler muss null sein, der Nenner nicht", "Le numérateur doit être nul, pas le dénominateur")
_phrase("abs_cases", "An absolute value is {c} when what is inside it is {c} or -{c}",
        "Un valor absoluto vale {c} cuando lo de dentro vale {c} o -{c}",
        "Модуль равен {c}, когда выражение под ним равно {c} или -{c}",
        "Ein Betrag ist {c}, wenn sein Inhalt {c} oder -{c} ist",
        "Une valeur absolue vaut {c} quand ce qu'elle contient vaut {c} ou -{c}")
_phrase("abs_zero", "An absolute value is zero only when what is inside it is zero",
        "Un valor absoluto es cero solo si lo de dentro es cero",
        "Модуль равен нулю, только когда выражение под ним равно нулю",
        "Ein Betrag ist nur dann null, wenn sein Inhalt null ist",
        "Une valeur absolue est nulle seulement si ce qu'elle contient est nul")
_phrase("abs_negative", "An absolute value is never negative, so there is no solution",
        "Un valor absoluto nunca es negativo, así que no hay solución",
        "Модуль не бывает отрицательным, поэтому решений нет", "Ein Betrag ist nie negativ, also gibt es keine Lösung",
        "Une valeur absolue n'est jamais négative : il n'y a pas de solution")
_phrase("trig_angles.sin", "On the unit circle, these are the angles in one turn with this sine",
        "En la circunferencia unitaria, estos son los ángulos de una vuelta con este seno",
        "На единичной окружности это углы одного оборота с таким синусом",
        "Am Einheitskreis sind das die Winkel einer Umdrehung mit diesem Sinus",
        "Sur le cercle trigonométrique, ce sont les angles d'un tour qui ont ce sinus")
_phrase("trig_angles.cos", "On the unit circle, these are the angles in one turn with this cosine",
        "En la circunferencia unitaria, estos son los ángulos de una vuelta con este coseno",
        "На единичной окружности это углы одного оборота с таким косинусом",
        "Am Einheitskreis sind das die Winkel einer Umdrehung mit diesem Kosinus",
        "Sur le cercle trigonométrique, ce sont les angles d'un tour qui ont ce cosinus")
_phrase("trig_angles.tan", "This is the angle between minus and plus a quarter turn with this tangent",
        "Este es el ángulo entre menos y más un cuarto de vuelta con esta tangente",
        "Это угол от минус до плюс четверти оборота с таким тангенсом",
        "Das ist der Winkel zwischen minus und plus einer Vierteldrehung mit diesem Tangens",
        "C'est l'angle entre moins et plus un quart de tour qui a cette tangente")
_phrase("trig_period_2pi", "The values repeat every full turn, 2 pi: add any whole number of turns",
        "Los valores se repiten cada vuelta completa, 2 pi: sumamos un número entero de vueltas",
        "Значения повторяются через полный оборот, 2 пи: добавляем целое число оборотов",
        "Die Werte wiederholen sich nach jeder vollen Umdrehung, 2 pi: wir addieren ganze Umdrehungen",
        "Les valeurs se répètent à chaque tour complet, 2 pi : ajoutons un nombre entier de tours")
_phrase("trig_period_pi", "The values repeat every half turn, pi: add any whole number of half turns",
        "Los valores se repiten cada media vuelta, pi: sumamos un número entero de medias vueltas",
        "Значения повторяются через пол-оборота, пи: добавляем целое число полуоборотов",
        "Die Werte wiederholen sich nach jeder halben Umdrehung, pi: wir addieren ganze halbe Umdrehungen",
        "Les valeurs se répètent à chaque demi-tour, pi : ajoutons un nombre entier de demi-tours")
_phrase("k_integer", "k any integer", "k entero", "k целое число", "k ganzzahlig", "k entier")
_phrase("trig_out_of_range.sin", "A sine is always between -1 and 1, so there is no solution",
        "Un seno siempre está entre -1 y 1, así que no hay solución",
        "Синус всегда между -1 и 1, поэтому решений нет", "Ein Sinus liegt immer zwischen -1 und 1, also keine Lösung",
        "Un sinus est toujours entre -1 et 1 : il n'y a pas de solution")
_phrase("trig_out_of_range.cos", "A cosine is always between -1 and 1, so there is no solution",
        "Un coseno siempre está entre -1 y 1, así que no hay solución",
        "Косинус всегда между -1 и 1, поэтому решений нет",
        "Ein Kosinus liegt immer zwischen -1 und 1, also keine Lösung",
        "Un cosinus est toujours entre -1 et 1 : il n'y a pas de solution")
_phrase("solutions", "The solutions", "Las soluciones", "Решения", "Die Lösungen", "Les solutions")
# -- systems -------------------------------------------------------------------------------------
_phrase("from_equation", "From equation {n} express {var}", "De la ecuación {n} despejamos {var}",
        "Из уравнения {n} выражаем {var}", "Aus Gleichung {n} stellen wir {var} frei",
        "De l'équation {n}, isolons {var}")
_phrase("substitute", "Substitute this into the other equation", "Lo sustituimos en la otra ecuación",
        "Подставляем это в другое уравнение", "Wir setzen das in die andere Gleichung ein",
        "Remplaçons dans l'autre équation")
_phrase("back_substitute", "Substitute back to find {var}", "Sustituimos para hallar {var}",
        "Подставляем и находим {var}", "Wir setzen ein, um {var} zu finden", "Remplaçons pour trouver {var}")
_phrase("add_equations", "Add the two equations, so that {var} cancels out",
        "Sumamos las dos ecuaciones para eliminar {var}", "Складываем уравнения, чтобы {var} сократился",
        "Wir addieren die Gleichungen, damit {var} wegfällt", "Additionnons les deux équations pour éliminer {var}")
_phrase("subtract_equations", "Subtract the second equation from the first, so that {var} cancels out",
        "Restamos la segunda ecuación de la primera para eliminar {var}",
        "Вычитаем второе уравнение из первого, чтобы {var} сократился",
        "Wir subtrahieren die zweite Gleichung von der ersten, damit {var} wegfällt",
        "Soustrayons la deuxième équation de la première pour éliminer {var}")
_phrase("put_into", "Put this value into equation {n}", "Sustituimos este valor en la ecuación {n}",
        "Подставляем это значение в уравнение {n}", "Wir setzen den Wert in Gleichung {n} ein",
        "Remplaçons cette valeur dans l'équation {n}")
_phrase("check_system", "Check: both values satisfy both equations",
        "Comprobación: los dos valores cumplen ambas ecuaciones", "Проверка: оба значения подходят в оба уравнения",
        "Probe: Beide Werte erfüllen beide Gleichungen", "Vérification : les deux valeurs vérifient les deux équations")
_phrase("parallel", "The lines are parallel: no solution", "Las rectas son paralelas: no hay solución",
        "Прямые параллельны: решений нет", "Die Geraden sind parallel: keine Lösung",
        "Les droites sont parallèles : pas de solution")
_phrase("same_line", "Both equations describe the same line", "Las dos ecuaciones son la misma recta",
        "Оба уравнения задают одну прямую", "Beide Gleichungen beschreiben dieselbe Gerade",
        "Les deux équations décrivent la même droite")
# -- inequalities --------------------------------------------------------------------------------
_phrase("all_parts_subtract", "Subtract {a} from all three parts", "Restamos {a} en las tres partes",
        "Вычитаем {a} из всех трёх частей", "Wir subtrahieren {a} in allen drei Teilen",
        "Soustrayons {a} aux trois membres")
_phrase("all_parts_add", "Add {a} to all three parts", "Sumamos {a} en las tres partes",
        "Прибавляем {a} ко всем трём частям", "Wir addieren {a} in allen drei Teilen", "Ajoutons {a} aux trois membres")
_phrase("all_parts_divide", "Divide all three parts by {a}", "Dividimos las tres partes entre {a}",
        "Делим все три части на {a}", "Wir teilen alle drei Teile durch {a}", "Divisons les trois membres par {a}")
_phrase("zeros", "Find where the left side is zero", "Buscamos dónde el lado izquierdo vale cero",
        "Находим нули левой части", "Wir bestimmen die Nullstellen der linken Seite",
        "Cherchons où le membre de gauche s'annule")
_phrase("zeros_fraction", "Find where the top or the bottom of the fraction is zero",
        "Buscamos dónde se anulan el numerador o el denominador", "Находим нули числителя и знаменателя",
        "Wir bestimmen die Nullstellen von Zähler und Nenner",
        "Cherchons où s'annulent le numérateur et le dénominateur")
_phrase("sign", "Test one point in each interval to find the sign",
        "Probamos un punto de cada intervalo para ver el signo", "Берём точку в каждом промежутке и определяем знак",
        "Wir prüfen in jedem Intervall einen Punkt auf das Vorzeichen",
        "Testons un point de chaque intervalle pour trouver le signe")
_phrase("keep_sign", "Keep the intervals with the sign we need", "Nos quedamos con los intervalos del signo buscado",
        "Оставляем промежутки с нужным знаком", "Wir behalten die Intervalle mit dem gesuchten Vorzeichen",
        "Gardons les intervalles qui ont le signe voulu")
_phrase("each_part", "Solve each part", "Resolvemos cada parte", "Решаем каждую часть", "Wir lösen jeden Teil",
        "Résolvons chaque partie")
_phrase("both_hold", "Both conditions must hold", "Deben cumplirse ambas condiciones",
        "Должны выполняться оба условия", "Beide Bedingungen müssen gelten", "Les deux conditions doivent être vraies")
_phrase("number_line", "The solution on the number line", "La solución en la recta numérica",
        "Решение на числовой прямой", "Die Lösung auf dem Zahlenstrahl", "La solution sur la droite des réels")
# -- derivatives ---------------------------------------------------------------------------------
_phrase("use_product", "This is a product of two functions, so we use the product rule",
        "Es un producto de dos funciones: usamos la regla del producto",
        "Это произведение двух функций: применяем правило произведения",
        "Das ist ein Produkt zweier Funktionen: Wir nutzen die Produktregel",
        "C'est un produit de deux fonctions : utilisons la dérivée d'un produit")
_phrase("use_quotient", "This is a quotient, so we use the quotient rule",
        "Es un cociente: usamos la regla del cociente",
        "Это частное: применяем правило для дроби", "Das ist ein Quotient: Wir nutzen die Quotientenregel",
        "C'est un quotient : utilisons la dérivée d'un quotient")
_phrase("use_chain", "This is a function inside another function, so we use the chain rule",
        "Es una función dentro de otra: usamos la regla de la cadena",
        "Это сложная функция: применяем правило для сложной функции",
        "Das ist eine verkettete Funktion: Wir nutzen die Kettenregel",
        "C'est une fonction composée : utilisons la dérivée d'une composée")
_phrase("use_sum", "Differentiate term by term", "Derivamos término a término", "Дифференцируем почленно",
        "Wir leiten summandenweise ab", "Dérivons terme à terme")
_phrase("name_first", "Call the first factor u", "Llamamos u al primer factor", "Обозначим первый множитель через u",
        "Wir nennen den ersten Faktor u", "Appelons u le premier facteur")
_phrase("name_second", "Call the second factor v", "Llamamos v al segundo factor",
        "Обозначим второй множитель через v", "Wir nennen den zweiten Faktor v", "Appelons v le second facteur")
_phrase("name_numerator", "Call the numerator u", "Llamamos u al numerador", "Обозначим числитель через u",
        "Wir nennen den Zähler u", "Appelons u le numérateur")
_phrase("name_denominator", "Call the denominator v", "Llamamos v al denominador", "Обозначим знаменатель через v",
        "Wir nennen den Nenner v", "Appelons v le dénominateur")
_phrase("name_factors", "Call the two factors u and v", "Llamamos u y v a los dos factores",
        "Обозначим множители через u и v", "Wir nennen die beiden Faktoren u und v",
        "Appelons u et v les deux facteurs")
_phrase("name_fraction", "Call the numerator u and the denominator v", "Llamamos u al numerador y v al denominador",
        "Обозначим числитель через u, знаменатель через v", "Wir nennen den Zähler u und den Nenner v",
        "Appelons u le numérateur et v le dénominateur")
_phrase("derive_parts", "Differentiate u and v", "Derivamos u y v", "Находим производные u и v",
        "Wir leiten u und v ab", "Dérivons u et v")
_phrase("derive_part", "Differentiate {part}", "Derivamos {part}", "Находим производную {part}", "Wir leiten {part} ab",
        "Dérivons {part}")
_phrase("why.power", "Power rule: bring the exponent down and lower it by one",
        "Regla de la potencia: el exponente baja y se le resta uno",
        "Степень: показатель выносим вперёд и уменьшаем на единицу",
        "Potenzregel: Exponent nach vorne, dann um eins verringern",
        "Puissance : l'exposant passe devant et diminue de un")
_phrase("why.table", "This is a standard derivative from the table", "Es una derivada de la tabla",
        "Это табличная производная", "Das ist eine Grundableitung", "C'est une dérivée usuelle")
_phrase("why.exp_log", "Write it as e to the power of its logarithm, then use the chain rule",
        "La escribimos como e elevado a su logaritmo y usamos la regla de la cadena",
        "Записываем как e в степени логарифма и применяем правило сложной функции",
        "Wir schreiben sie als e hoch ihren Logarithmus und nutzen die Kettenregel",
        "Écrivons-la comme e puissance son logarithme, puis dérivons la composée")
_phrase("why.constant", "A constant has derivative zero", "La derivada de una constante es cero",
        "Производная константы равна нулю", "Die Ableitung einer Konstanten ist null",
        "La dérivée d'une constante est nulle")
_phrase("why.chain", "Chain rule: outer derivative times inner derivative",
        "Regla de la cadena: derivada exterior por derivada interior",
        "Сложная функция: производная внешней на производную внутренней",
        "Kettenregel: äußere Ableitung mal innere Ableitung",
        "Composée : dérivée extérieure fois dérivée intérieure")
_phrase("why.product", "Product rule: u prime v plus u v prime", "Regla del producto: u prima v más u v prima",
        "Произведение: u штрих v плюс u v штрих", "Produktregel: u Strich v plus u v Strich",
        "Produit : u prime v plus u v prime")
_phrase("why.quotient", "Quotient rule: u prime v minus u v prime, over v squared",
        "Regla del cociente: u prima v menos u v prima, entre v al cuadrado",
        "Частное: u штрих v минус u v штрих, делённое на v в квадрате",
        "Quotientenregel: u Strich v minus u v Strich, durch v Quadrat",
        "Quotient : u prime v moins u v prime, sur v au carré")
_phrase("why.sum", "Differentiate each term with its own rule", "Derivamos cada término con su regla",
        "Дифференцируем каждое слагаемое по своему правилу", "Wir leiten jeden Summanden nach seiner Regel ab",
        "Dérivons chaque terme avec sa règle")
_phrase("constant_factor", "The constant factor stays in front", "El factor constante se queda delante",
        "Постоянный множитель выносим за знак производной", "Der konstante Faktor bleibt stehen",
        "Le facteur constant reste devant")
_phrase("put_into_rule", "Put u, v and their derivatives into the rule",
        "Sustituimos u, v y sus derivadas en la regla", "Подставляем u, v и их производные в формулу",
        "Wir setzen u, v und ihre Ableitungen in die Regel ein",
        "Remplaçons u, v et leurs dérivées dans la formule")
_phrase("inner_function", "The inner function is u", "La función interior es u", "Внутренняя функция — u",
        "Die innere Funktion ist u", "La fonction intérieure est u")
_phrase("outer_function", "The outer function is g", "La función exterior es g", "Внешняя функция — g",
        "Die äußere Funktion ist g", "La fonction extérieure est g")
_phrase("multiply_chain", "Multiply the outer derivative by the inner one, and put u back",
        "Multiplicamos la derivada exterior por la interior y sustituimos u",
        "Умножаем производную внешней функции на производную внутренней и возвращаем u",
        "Äußere Ableitung mal innere Ableitung, dann u wieder einsetzen",
        "Multiplions la dérivée extérieure par la dérivée intérieure, puis remplaçons u")
_phrase("differentiate_again", "Differentiate once more", "Derivamos otra vez", "Дифференцируем ещё раз",
        "Wir leiten noch einmal ab", "Dérivons encore une fois")
_phrase("simplify_result", "Simplify", "Simplificamos", "Упрощаем", "Wir vereinfachen", "Simplifions")
_phrase("function_and_derivative", "The function and its derivative", "La función y su derivada",
        "Функция и её производная", "Funktion und Ableitung", "La fonction et sa dérivée")
# -- integrals -----------------------------------------------------------------------------------
_phrase("rule.int_power", "Power rule for integrals", "Regla de la potencia para integrales",
        "Интеграл степени", "Potenzregel der Integration", "Primitive d'une puissance")
_phrase("rule.int_sum", "Integrate term by term", "Integramos término a término", "Интегрируем почленно",
        "Wir integrieren summandenweise", "Intégrons terme à terme")
_phrase("rule.int_constant", "Constants come out of the integral", "Las constantes salen de la integral",
        "Константа выносится за знак интеграла", "Konstanten vor das Integral ziehen",
        "Les constantes sortent de l'intégrale")
_phrase("rule.substitution", "Substitution", "Cambio de variable", "Замена переменной", "Substitution",
        "Changement de variable")
_phrase("rule.parts", "Integration by parts", "Integración por partes", "Интегрирование по частям",
        "Partielle Integration", "Intégration par parties")
_phrase("rule.int_table", "Standard integrals", "Integrales inmediatas", "Табличные интегралы", "Grundintegrale",
        "Primitives usuelles")
_phrase("rule.rewrite", "Rewrite the integrand", "Reescribimos el integrando",
        "Преобразуем подынтегральное выражение", "Wir formen den Integranden um", "Réécrivons l'intégrande")
_phrase("int_split", "Integrate term by term and take the constants out",
        "Integramos término a término y sacamos las constantes", "Интегрируем почленно и выносим константы",
        "Wir integrieren summandenweise und ziehen die Konstanten heraus",
        "Intégrons terme à terme et sortons les constantes")
_phrase("int_constant_out", "Take the constant factor out of the integral",
        "Sacamos el factor constante de la integral", "Выносим постоянный множитель за знак интеграла",
        "Wir ziehen den konstanten Faktor vor das Integral", "Sortons le facteur constant de l'intégrale")
_phrase("why.int_power", "Power rule: raise the power by one and divide by the new power",
        "Regla de la potencia: sumamos uno al exponente y dividimos entre el nuevo exponente",
        "Степень: увеличиваем показатель на единицу и делим на новый показатель",
        "Potenzregel: Exponent um eins erhöhen und durch den neuen Exponenten teilen",
        "Puissance : augmentons l'exposant de un et divisons par le nouvel exposant")
_phrase("why.int_table", "Use a standard integral from the table", "Usamos una integral de la tabla",
        "Используем табличный интеграл", "Wir nutzen ein Grundintegral", "Utilisons une primitive usuelle")
_phrase("why.int_constant", "A constant integrates to the constant times the variable",
        "Una constante se integra como la constante por la variable",
        "Интеграл константы равен константе, умноженной на переменную",
        "Eine Konstante wird zu Konstante mal Variable", "Une constante s'intègre en constante fois la variable")
_phrase("why.int_mixed", "Integrate each term by its rule", "Integramos cada término con su regla",
        "Интегрируем каждое слагаемое по своему правилу", "Jeder Summand wird nach seiner Regel integriert",
        "Intégrons chaque terme selon sa règle")
_phrase("int_tidy", "Simplify, and add the constant of integration",
        "Simplificamos y añadimos la constante de integración", "Упрощаем и добавляем постоянную интегрирования",
        "Wir vereinfachen und addieren die Integrationskonstante",
        "Simplifions et ajoutons la constante d'intégration")
_phrase("parts_choose", "Integrate by parts. Choose u, which gets simpler when differentiated, and dv",
        "Integramos por partes. Elegimos u, que se simplifica al derivar, y dv",
        "Интегрируем по частям. Выбираем u, которое упрощается при дифференцировании, и dv",
        "Partielle Integration. Wir wählen u, das beim Ableiten einfacher wird, und dv",
        "Intégrons par parties. Choisissons u, qui se simplifie en dérivant, et dv")
_phrase("parts_derive", "Differentiate u and integrate dv", "Derivamos u e integramos dv",
        "Находим du и интегрируем dv", "Wir leiten u ab und integrieren dv", "Dérivons u et intégrons dv")
_phrase("parts_formula", "Use the formula: u v minus the integral of v du",
        "Aplicamos la fórmula: u v menos la integral de v du", "Применяем формулу: u v минус интеграл от v du",
        "Formel: u v minus das Integral von v du", "Appliquons la formule : u v moins l'intégrale de v du")
_phrase("parts_finish", "Work out the integral that is left", "Calculamos la integral que queda",
        "Вычисляем оставшийся интеграл", "Wir berechnen das verbleibende Integral",
        "Calculons l'intégrale restante")
_phrase("sub_choose", "Call the inner expression u and find du",
        "Llamamos u a la expresión interior y hallamos du", "Обозначим внутреннее выражение через u и найдём du",
        "Wir nennen den inneren Ausdruck u und bestimmen du",
        "Appelons u l'expression intérieure et calculons du")
_phrase("sub_rewrite", "Rewrite the integral in terms of u", "Reescribimos la integral en términos de u",
        "Переписываем интеграл через u", "Wir schreiben das Integral mit u", "Réécrivons l'intégrale avec u")
_phrase("sub_integrate", "Integrate with respect to u", "Integramos respecto de u", "Интегрируем по u",
        "Wir integrieren nach u", "Intégrons par rapport à u")
_phrase("sub_back", "Put the inner expression back in place of u", "Volvemos a la variable original",
        "Возвращаемся к исходной переменной", "Wir setzen den inneren Ausdruck für u wieder ein",
        "Revenons à la variable de départ")
_phrase("antiderivative", "Antiderivative", "Primitiva", "Первообразная", "Stammfunktion", "Primitive")
_phrase("find_antiderivative", "First find an antiderivative F", "Primero hallamos una primitiva F",
        "Сначала находим первообразную F", "Zuerst bestimmen wir eine Stammfunktion F",
        "Cherchons d'abord une primitive F")
_phrase("check_derivative", "Check: the derivative gives back the integrand",
        "Comprobación: al derivar obtenemos el integrando", "Проверка: производная равна подынтегральной функции",
        "Probe: Ableiten ergibt den Integranden", "Vérification : en dérivant on retrouve l'intégrande")
_phrase("newton_leibniz", "Subtract the value at the lower limit from the value at the upper limit",
        "Restamos el valor en el límite inferior del valor en el superior",
        "Формула Ньютона — Лейбница: значение на верхнем пределе минус значение на нижнем",
        "Hauptsatz: Wert an der oberen Grenze minus Wert an der unteren Grenze",
        "Valeur à la borne supérieure moins valeur à la borne inférieure")
_phrase("area_under", "The integral is the signed area under the curve",
        "La integral es el área con signo bajo la curva", "Интеграл — площадь под графиком (со знаком)",
        "Das Integral ist die orientierte Fläche unter dem Graphen",
        "L'intégrale est l'aire algébrique sous la courbe")
_phrase("function_and_antiderivative", "The function and an antiderivative", "La función y una primitiva",
        "Функция и первообразная", "Funktion und Stammfunktion", "La fonction et une primitive")
# -- limits --------------------------------------------------------------------------------------
_phrase("substitute_point", "Substitute {point} for {var}", "Sustituimos {var} por {point}",
        "Подставляем {point} вместо {var}", "Wir setzen {point} für {var} ein", "Remplaçons {var} par {point}")
_phrase("substitute_given", "Substitute the given point", "Sustituimos el punto dado", "Подставляем данную точку",
        "Wir setzen den gegebenen Punkt ein", "Remplaçons par le point donné")
_phrase("continuous", "The function is continuous here, so we can substitute directly",
        "La función es continua aquí: sustituimos directamente",
        "Функция здесь непрерывна, поэтому просто подставляем точку",
        "Die Funktion ist hier stetig, also setzen wir direkt ein",
        "La fonction est continue ici : remplaçons directement")
_phrase("indeterminate", "Substituting gives zero over zero, which tells us nothing yet",
        "Al sustituir obtenemos cero entre cero, que aún no dice nada",
        "Подстановка даёт ноль на ноль: это неопределённость",
        "Einsetzen ergibt null durch null, das sagt noch nichts",
        "La substitution donne zéro sur zéro, une forme indéterminée")
_phrase("factor_cancel", "Factor the top and the bottom and cancel the common factor",
        "Factorizamos numerador y denominador y cancelamos el factor común",
        "Раскладываем числитель и знаменатель на множители и сокращаем",
        "Wir faktorisieren Zähler und Nenner und kürzen", "Factorisons en haut et en bas et simplifions")
_phrase("substitute_now", "Now substitute the point", "Ahora sustituimos el punto", "Теперь подставляем точку",
        "Jetzt setzen wir den Punkt ein", "Maintenant, remplaçons")
_phrase("lhopital", "L'Hôpital's rule: differentiate top and bottom",
        "Regla de L'Hôpital: derivamos numerador y denominador",
        "Правило Лопиталя: дифференцируем числитель и знаменатель",
        "Regel von L'Hospital: Zähler und Nenner ableiten",
        "Règle de L'Hôpital : dérivons numérateur et dénominateur")
_phrase("still_indeterminate", "Still zero over zero, so apply the rule once more",
        "Sigue siendo cero entre cero: aplicamos la regla otra vez", "Снова ноль на ноль: применяем правило ещё раз",
        "Wieder null durch null: noch einmal die Regel", "Encore zéro sur zéro : appliquons la règle une fois de plus")
_phrase("known_limit", "This is a well known limit", "Es un límite conocido", "Это первый замечательный предел",
        "Das ist ein bekannter Grenzwert", "C'est une limite connue")
_phrase("known_limit_e", "This is the well known limit that defines the number e",
        "Es el límite conocido que define el número e", "Это второй замечательный предел, он равен числу e",
        "Das ist der bekannte Grenzwert, der die Zahl e definiert",
        "C'est la limite connue qui définit le nombre e")
_phrase("divide_highest", "Divide the top and the bottom by the highest power of {var}",
        "Dividimos numerador y denominador entre la mayor potencia de {var}",
        "Делим числитель и знаменатель на старшую степень {var}",
        "Wir teilen Zähler und Nenner durch die höchste Potenz von {var}",
        "Divisons numérateur et dénominateur par la plus haute puissance de {var}")
_phrase("vanish", "A number over a growing power of {var} goes to zero",
        "Un número entre una potencia creciente de {var} tiende a cero",
        "Число, делённое на растущую степень {var}, стремится к нулю",
        "Eine Zahl durch eine wachsende Potenz von {var} geht gegen null",
        "Un nombre divisé par une puissance croissante de {var} tend vers zéro")
_phrase("nonzero_over_zero", "The top tends to a nonzero number and the bottom to zero, so it grows without bound",
        "El numerador tiende a un número no nulo y el denominador a cero: crece sin límite",
        "Числитель стремится к ненулевому числу, знаменатель к нулю: функция неограниченно растёт",
        "Der Zähler geht gegen eine Zahl ungleich null, der Nenner gegen null: unbeschränkt",
        "Le numérateur tend vers un nombre non nul, le dénominateur vers zéro : pas de borne")
_phrase("leading_terms", "For large {var} the highest powers decide",
        "Para {var} grande deciden las potencias mayores", "При больших {var} главную роль играют старшие степени",
        "Für große {var} entscheiden die höchsten Potenzen", "Pour {var} grand, les plus hautes puissances dominent")
_phrase("evaluate_limit", "Evaluate the limit", "Calculamos el límite", "Вычисляем предел",
        "Wir berechnen den Grenzwert", "Calculons la limite")
_phrase("one_sided", "The left and right limits differ", "Los límites laterales son distintos",
        "Односторонние пределы различны", "Links- und rechtsseitiger Grenzwert sind verschieden",
        "Les limites à gauche et à droite diffèrent")
# -- simplify / expand / factor ------------------------------------------------------------------
_phrase("distribute", "Multiply every term by every term", "Multiplicamos cada término por cada término",
        "Умножаем каждое слагаемое на каждое", "Wir multiplizieren jeden Term mit jedem",
        "Multiplions chaque terme par chaque terme")
_phrase("use_identity", "Use the identity for the square of two terms",
        "Usamos la identidad del cuadrado de un binomio",
        "Применяем формулу квадрата двучлена", "Wir nutzen die binomische Formel",
        "Utilisons l'identité remarquable du carré")
_phrase("identity_values", "Put the two terms in for a and b", "Sustituimos a y b por los dos términos",
        "Подставляем оба слагаемых вместо a и b", "Wir setzen die beiden Terme für a und b ein",
        "Remplaçons a et b par les deux termes")
_phrase("common_bracket", "Take out the common bracket", "Sacamos el paréntesis común", "Выносим общую скобку",
        "Wir klammern die gemeinsame Klammer aus", "Mettons la parenthèse commune en facteur")
_phrase("combine", "Combine like terms", "Reducimos términos semejantes", "Приводим подобные слагаемые",
        "Wir fassen gleichartige Terme zusammen", "Regroupons les termes semblables")
_phrase("common_factor", "Take out the common factor", "Sacamos factor común", "Выносим общий множитель",
        "Wir klammern den gemeinsamen Faktor aus", "Mettons en facteur le facteur commun")
_phrase("difference_of_squares", "This is a difference of two squares", "Es una diferencia de cuadrados",
        "Это разность квадратов", "Das ist eine Differenz zweier Quadrate", "C'est une différence de deux carrés")
_phrase("perfect_square", "This is a perfect square", "Es un trinomio cuadrado perfecto", "Это полный квадрат",
        "Das ist ein vollständiges Quadrat", "C'est un carré parfait")
_phrase("split_middle", "Split the middle term with these two numbers",
        "Dividimos el término central con estos dos números",
        "Разбиваем средний член с помощью этих чисел", "Wir zerlegen den mittleren Term mit diesen Zahlen",
        "Décomposons le terme du milieu avec ces deux nombres")
_phrase("group_pairs", "Group the terms in pairs and take out what each pair shares",
        "Agrupamos los términos de dos en dos y sacamos lo común",
        "Группируем слагаемые попарно и выносим общие множители",
        "Wir gruppieren paarweise und klammern jeweils aus",
        "Groupons les termes deux par deux et factorisons chaque paire")
_phrase("factor_further", "Factor what is left", "Factorizamos lo que queda", "Раскладываем оставшийся множитель",
        "Wir faktorisieren den Rest", "Factorisons ce qui reste")
_phrase("irreducible", "It cannot be factored further", "No se puede factorizar más",
        "Дальше на множители не раскладывается", "Das lässt sich nicht weiter faktorisieren",
        "Ne se factorise pas davantage")
_phrase("factor_fraction", "Factor the numerator and the denominator", "Factorizamos numerador y denominador",
        "Раскладываем числитель и знаменатель", "Wir faktorisieren Zähler und Nenner",
        "Factorisons numérateur et dénominateur")
_phrase("cancel", "Cancel the common factors", "Cancelamos los factores comunes", "Сокращаем общие множители",
        "Wir kürzen die gemeinsamen Faktoren", "Simplifions les facteurs communs")
_phrase("combine_fractions", "Put everything over one denominator", "Ponemos todo con un mismo denominador",
        "Приводим к общему знаменателю", "Wir bringen alles auf einen Nenner", "Mettons tout au même dénominateur")
_phrase("trig_identity", "Use the trigonometric identities", "Usamos las identidades trigonométricas",
        "Применяем тригонометрические тождества", "Wir nutzen die trigonometrischen Identitäten",
        "Utilisons les identités trigonométriques")
# -- arithmetic ----------------------------------------------------------------------------------
_phrase("common_denominator", "Bring the fractions to the common denominator {d}",
        "Llevamos las fracciones al común denominador {d}", "Приводим дроби к общему знаменателю {d}",
        "Wir bringen die Brüche auf den gemeinsamen Nenner {d}", "Mettons les fractions au dénominateur commun {d}")
_phrase("add_numerators", "Add the numerators", "Sumamos los numeradores", "Складываем числители",
        "Wir addieren die Zähler", "Additionnons les numérateurs")
_phrase("reduce", "Reduce the fraction", "Simplificamos la fracción", "Сокращаем дробь", "Wir kürzen den Bruch",
        "Simplifions la fraction")
_phrase("inner_first", "Work out the innermost operations first", "Primero las operaciones interiores",
        "Сначала выполняем внутренние действия", "Zuerst die inneren Rechnungen",
        "D'abord les opérations intérieures")
_phrase("radical_split", "Write the number under the root as a perfect square times the rest, and take the square out",
        "Escribimos el número bajo la raíz como un cuadrado perfecto por el resto, y sacamos el cuadrado",
        "Представляем число под корнем как полный квадрат, умноженный на остаток, и выносим квадрат из-под корня",
        "Wir schreiben die Zahl unter der Wurzel als Quadratzahl mal Rest und ziehen die Quadratzahl heraus",
        "Écrivons le nombre sous la racine comme un carré parfait fois le reste, et sortons le carré")
_phrase("collect_roots", "Add the like roots, as with like terms", "Sumamos las raíces semejantes",
        "Складываем подобные корни, как подобные слагаемые", "Wir fassen gleiche Wurzeln zusammen",
        "Additionnons les racines semblables")
_phrase("calculate", "Calculate", "Calculamos", "Вычисляем", "Wir rechnen aus", "Calculons")
_phrase("decimal", "As a decimal", "En decimal", "В десятичной записи", "Als Dezimalzahl",
        "En écriture décimale")
_phrase("percent_means", "One percent is one hundredth, so divide by 100",
        "Un por ciento es una centésima: dividimos entre 100", "Один процент — это одна сотая: делим на 100",
        "Ein Prozent ist ein Hundertstel: Wir teilen durch 100", "Un pour cent est un centième : divisons par 100")
_phrase("multiply", "Multiply", "Multiplicamos", "Умножаем", "Wir multiplizieren", "Multiplions")
# -- plots ---------------------------------------------------------------------------------------
_phrase("y_intercept", "Put {var} equal to zero to find where the graph crosses the y axis",
        "Ponemos {var} igual a cero para hallar el corte con el eje y",
        "Подставляем ноль вместо {var}: так находим пересечение с осью y",
        "Wir setzen {var} gleich null: Schnittpunkt mit der y-Achse",
        "Posons {var} égal à zéro : intersection avec l'axe des y")
_phrase("x_intercepts", "Set the function equal to zero to find where the graph crosses the x axis",
        "Igualamos la función a cero para hallar los cortes con el eje x",
        "Приравниваем функцию к нулю: так находим пересечения с осью x",
        "Wir setzen die Funktion gleich null: Schnittpunkte mit der x-Achse",
        "Annulons la fonction : intersections avec l'axe des x")
_phrase("no_zeros", "The function is never zero, so the graph does not cross the x axis",
        "La función nunca vale cero: la gráfica no corta el eje x",
        "Функция нигде не равна нулю: график не пересекает ось x",
        "Die Funktion wird nie null: Der Graph schneidet die x-Achse nicht",
        "La fonction ne s'annule pas : la courbe ne coupe pas l'axe des x")
_phrase("vertex_x", "The vertex of a parabola is at minus b over 2 a",
        "El vértice de la parábola está en menos b entre 2 a", "Вершина параболы: минус b, делённое на 2 a",
        "Der Scheitel der Parabel liegt bei minus b durch 2 a", "Le sommet de la parabole est en moins b sur 2 a")
_phrase("vertex_min", "Put this into the function. As a is positive, the parabola opens upward: this is the minimum",
        "Lo sustituimos en la función. Como a es positivo, la parábola abre hacia arriba: es el mínimo",
        "Подставляем в функцию. Так как a положительно, ветви направлены вверх: это минимум",
        "Wir setzen ein. Da a positiv ist, ist die Parabel nach oben offen: ein Tiefpunkt",
        "Remplaçons dans la fonction. Comme a est positif, la parabole est tournée vers le haut : minimum")
_phrase("vertex_max", "Put this into the function. As a is negative, the parabola opens downward: this is the maximum",
        "Lo sustituimos en la función. Como a es negativo, la parábola abre hacia abajo: es el máximo",
        "Подставляем в функцию. Так как a отрицательно, ветви направлены вниз: это максимум",
        "Wir setzen ein. Da a negativ ist, ist die Parabel nach unten offen: ein Hochpunkt",
        "Remplaçons dans la fonction. Comme a est négatif, la parabole est tournée vers le bas : maximum")
_phrase("extrema", "Turning points are where the derivative is zero", "Los extremos están donde la derivada vale cero",
        "Экстремумы там, где производная равна нулю", "Extrempunkte liegen dort, wo die Ableitung null ist",
        "Les extremums sont là où la dérivée s'annule")
_phrase("extrema_values", "Put them into the function. The second derivative tells a maximum from a minimum",
        "Los sustituimos en la función. La segunda derivada distingue máximo y mínimo",
        "Подставляем в функцию. Вторая производная отличает максимум от минимума",
        "Wir setzen sie ein. Die zweite Ableitung unterscheidet Hoch- und Tiefpunkt",
        "Remplaçons dans la fonction. La dérivée seconde distingue maximum et minimum")
_phrase("plot_period", "The function repeats every {period}, so one period shows the whole graph",
        "La función se repite cada {period}, así que un periodo muestra toda la gráfica",
        "Функция повторяется через каждые {period}, поэтому достаточно изучить один период",
        "Die Funktion wiederholt sich alle {period}, also zeigt eine Periode den ganzen Graphen",
        "La fonction se répète tous les {period}, donc une période montre toute la courbe")
_phrase("period_word", "period", "periodo", "период", "Periode", "période")
_phrase("minimum", "minimum", "mínimo", "минимум", "Tiefpunkt", "minimum")
_phrase("maximum", "maximum", "máximo", "максимум", "Hochpunkt", "maximum")
_phrase("zeros_word", "zeros", "ceros", "нули", "Nullstellen", "zéros")
# -- geometry ------------------------------------------------------------------------------------
_phrase("pythagoras", "In a right triangle the squares of the legs add up to the square of the hypotenuse",
        "En un triángulo rectángulo, los cuadrados de los catetos suman el cuadrado de la hipotenusa",
        "В прямоугольном треугольнике сумма квадратов катетов равна квадрату гипотенузы",
        "Im rechtwinkligen Dreieck ist die Summe der Kathetenquadrate gleich dem Hypotenusenquadrat",
        "Dans un triangle rectangle, la somme des carrés des deux côtés égale le carré de l'hypoténuse")
_phrase("solve_for_leg", "Solve it for the unknown leg", "Despejamos el cateto desconocido",
        "Выражаем неизвестный катет", "Wir stellen nach der gesuchten Kathete um", "Isolons le côté inconnu")
_phrase("substitute_values", "Substitute the known values", "Sustituimos los valores conocidos",
        "Подставляем известные значения", "Wir setzen die bekannten Werte ein", "Remplaçons par les valeurs connues")
_phrase("take_root", "Take the square root", "Sacamos la raíz cuadrada", "Извлекаем квадратный корень",
        "Wir ziehen die Wurzel", "Prenons la racine carrée")
_phrase("area_formula", "Start from the area formula", "Partimos de la fórmula del área",
        "Записываем формулу площади", "Wir schreiben die Flächenformel auf", "Partons de la formule de l'aire")
_phrase("diameter_to_radius", "The radius is half the diameter", "El radio es la mitad del diámetro",
        "Радиус равен половине диаметра", "Der Radius ist der halbe Durchmesser",
        "Le rayon est la moitié du diamètre")


def say(key: str, language: str, **values: object) -> str:
    """The phrase ``key`` in ``language`` (English when the language has none), filled in."""
    table = PHRASES[key]
    text = table.get(language) or table[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def spoken(value: sympy.Expr, language: str) -> str | None:
    """A number as a speech synthesizer can read it ("-3", "2 over 3"), or None when it is not rational."""
    if not isinstance(value, sympy.Basic) or not value.is_Rational:
        return None
    if value.is_Integer:
        return str(int(value))
    sign = "-" if value < 0 else ""
    return sign + say("fraction_spoken", language, p=abs(int(value.p)), q=int(value.q))


def detect_language(text: str) -> str:
    """The problem's language from its letters and words; English when nothing says otherwise."""
    if re.search(r"[а-яё]", text.lower()):
        return "ru"
    lowered = text.lower()
    scores = dict.fromkeys(LANGUAGES, 0.0)
    for language, hints in _ACCENT_HINTS.items():
        scores[language] += 2 * sum(lowered.count(ch) for ch in hints)
    if "é" in lowered:
        # é is French more often than Spanish (which writes á, í, ó, ú as well).
        scores["fr"] += 1
    # Single letters are variables far more often than words ("x + y = 3" is not Spanish).
    words = [word for word in re.findall(r"[a-z]+", fold(text)) if len(word) > 1]
    for language, (own, shared) in _LANGUAGE_WORDS.items():
        own_set, shared_set = set(own), set(shared)
        for word in words:
            if word in own_set:
                scores[language] += 2
            elif word in shared_set:
                scores[language] += 1
    best = max(LANGUAGES, key=lambda language: scores[language])
    return best if scores[best] > scores[DEFAULT_LANGUAGE] else DEFAULT_LANGUAGE


def normalise_language(language: str | None) -> str | None:
    """An ISO code the solver narrates in ("es-MX" -> "es"), or None when it has no narration for it."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def has_stem(folded_text: str, group: dict[str, tuple[str, ...]], key: str) -> bool:
    return any(stem_matches(folded_text, stem) for stem in group[key])


def stem_matches(folded_text: str, stem: str) -> bool:
    """A stem at the start of a word (so "graph" does not match "paragraph")."""
    return re.search(r"(?<![^\W\d_])" + re.escape(stem), folded_text) is not None
