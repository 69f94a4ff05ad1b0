"""Languages of the built-in solver: detection, request words and narration.

Request words are matched on folded text (lower case, accents removed, see
``parse.fold``) by prefix, so one stem covers a word's forms: "deriv" matches
derivative, derivada, dérivée and dériver. Narration is one table of phrases,
one column per language; a missing phrase is a bug the unit tests catch.
"""

from __future__ import annotations

import re

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
             "zeichne", "skizz", "trace", "courbe", "represente"),
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
            "right", "triangle", "rectangle", "square", "has", "its"),
           ("integral", "factor")),
    "es": (("resuelve", "resolver", "calcula", "derivada", "limite", "simplifica", "expande", "factoriza",
            "grafica", "cual", "cuanto", "el", "del", "es", "una", "un", "ecuacion", "sistema", "halla",
            "encuentra", "circulo", "radio", "catetos", "cateto", "hipotenusa", "tiende", "que", "los", "las",
            "desarrolla", "dibuja", "raices", "rectangulo", "triangulo", "cuadrado", "ancho", "largo", "mide"),
           ("de", "la", "area", "integral", "con", "base", "altura")),
    "de": (("lose", "berechne", "die", "der", "das", "und", "ist", "von", "ableitung", "vereinfache",
            "zeichne", "gleichung", "flache", "flacheninhalt", "kreis", "mit", "ein", "eine", "einem",
            "bestimme", "finde", "grenzwert", "faktorisiere", "multipliziere", "aus", "nullstellen", "gegen",
            "wie", "gross", "katheten", "rechteck", "dreieck", "breite", "hohe", "lange", "bis", "ungleichung",
            "gleichungssystem", "leite", "ab", "radius", "integral", "fur", "vereinfachen"),
           ("limes", "hypotenuse")),
    "fr": (("resous", "resoudre", "calcule", "calculez", "derivee", "integrale", "le", "les", "du", "des",
            "et", "est", "une", "quelle", "aire", "cercle", "rayon", "simplifie", "developpe", "factorise",
            "trace", "equation", "trouve", "quand", "tend", "vers", "rectangle", "largeur", "longueur",
            "hauteur", "cote", "cotes", "inequation", "systeme", "racines", "fonction", "sur", "entre",
            "combien", "font", "quel", "quels", "vaut", "fait", "fois", "moins", "calculer", "donne"),
           ("la", "de", "limite", "un", "hypotenuse", "base", "triangle")),
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
_phrase("graph", "On the graph", "En la gráfica", "На графике", "Am Graphen", "Sur le graphique")
_phrase("result", "Result", "Resultado", "Результат", "Ergebnis", "Résultat")
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
# -- equations -----------------------------------------------------------------------------------
_phrase("expand_both", "Expand both sides", "Desarrollamos ambos lados", "Раскрываем скобки",
        "Wir multiplizieren beide Seiten aus", "Développons les deux membres")
_phrase("collect", "Terms with {var} to the left, numbers to the right",
        "Términos con {var} a la izquierda, números a la derecha",
        "Слагаемые с {var} влево, числа вправо", "Terme mit {var} nach links, Zahlen nach rechts",
        "Termes en {var} à gauche, nombres à droite")
_phrase("divide", "Divide both sides by {a}", "Dividimos ambos lados entre {a}", "Делим обе части на {a}",
        "Beide Seiten durch {a} teilen", "Divisons les deux membres par {a}")
_phrase("flip", "Dividing by a negative number flips the sign",
        "Al dividir entre un número negativo, el signo cambia de sentido",
        "При делении на отрицательное число знак меняется", "Teilen durch eine negative Zahl dreht das Zeichen um",
        "Diviser par un nombre négatif change le sens du signe")
_phrase("identity", "Both sides are always equal: every number is a solution",
        "Ambos lados siempre son iguales: todo número es solución",
        "Обе части всегда равны: подходит любое число", "Beide Seiten sind immer gleich: jede Zahl ist Lösung",
        "Les deux membres sont toujours égaux : tout nombre est solution")
_phrase("contradiction", "This is a false statement: no solution",
        "Es una igualdad falsa: no tiene solución", "Получилось неверное равенство: решений нет",
        "Das ist eine falsche Aussage: keine Lösung", "C'est une égalité fausse : pas de solution")
_phrase("move_all", "Move all terms to the left side", "Pasamos todos los términos al lado izquierdo",
        "Переносим все слагаемые в левую часть", "Alle Terme auf die linke Seite bringen",
        "Passons tous les termes à gauche")
_phrase("factor_poly", "Factor the left side", "Factorizamos el lado izquierdo",
        "Раскладываем левую часть на множители", "Linke Seite faktorisieren", "Factorisons le membre de gauche")
_phrase("zero_product", "A product is zero when one of its factors is zero",
        "Un producto es cero si uno de sus factores es cero",
        "Произведение равно нулю, когда один из множителей равен нулю",
        "Ein Produkt ist null, wenn ein Faktor null ist", "Un produit est nul si l'un de ses facteurs est nul")
_phrase("discriminant", "Compute the discriminant", "Calculamos el discriminante", "Вычисляем дискриминант",
        "Diskriminante berechnen", "Calculons le discriminant")
_phrase("quadratic_formula", "Apply the quadratic formula", "Aplicamos la fórmula cuadrática",
        "Применяем формулу корней", "Lösungsformel anwenden", "Appliquons la formule des racines")
_phrase("double_root", "The discriminant is zero: one double root", "El discriminante es cero: una raíz doble",
        "Дискриминант равен нулю: один корень", "Die Diskriminante ist null: eine doppelte Lösung",
        "Le discriminant est nul : une racine double")
_phrase("no_real_roots", "The discriminant is negative: no real roots",
        "El discriminante es negativo: no hay raíces reales", "Дискриминант отрицателен: действительных корней нет",
        "Die Diskriminante ist negativ: keine reellen Lösungen", "Le discriminant est négatif : pas de racine réelle")
_phrase("roots_on_graph", "The roots are where the graph crosses the x-axis",
        "Las raíces son los cortes de la gráfica con el eje x", "Корни — точки пересечения графика с осью x",
        "Die Lösungen sind die Schnittpunkte mit der x-Achse",
        "Les racines sont les points où la courbe coupe l'axe des x")
_phrase("no_roots_on_graph", "The graph never crosses the x-axis", "La gráfica nunca corta el eje x",
        "График не пересекает ось x", "Der Graph schneidet die x-Achse nie", "La courbe ne coupe jamais l'axe des x")
_phrase("intersection_on_graph", "The solution is where the two graphs meet",
        "La solución es donde se cortan las dos gráficas", "Решение — точка пересечения графиков",
        "Die Lösung ist der Schnittpunkt der Graphen", "La solution est l'intersection des deux courbes")
_phrase("check", "Check each solution in the original equation",
        "Comprobamos cada solución en la ecuación original", "Проверяем каждый корень подстановкой",
        "Jede Lösung in die Gleichung einsetzen und prüfen", "Vérifions chaque solution dans l'équation")
_phrase("numerator_zero", "Numerator equal to zero, denominator not zero",
        "Numerador igual a cero, denominador distinto de cero", "Числитель равен нулю, знаменатель не равен нулю",
        "Zähler gleich null, Nenner ungleich null", "Numérateur nul, dénominateur non nul")
_phrase("solutions", "The solutions", "Las soluciones", "Решения", "Die Lösungen", "Les solutions")
# -- systems -------------------------------------------------------------------------------------
_phrase("from_equation", "From equation {n} express {var}", "De la ecuación {n} despejamos {var}",
        "Из уравнения {n} выражаем {var}", "Aus Gleichung {n}: {var} freistellen",
        "De l'équation {n}, isolons {var}")
_phrase("substitute", "Substitute into the other equation", "Sustituimos en la otra ecuación",
        "Подставляем в другое уравнение", "In die andere Gleichung einsetzen", "Remplaçons dans l'autre équation")
_phrase("solve_for", "Solve for {var}", "Despejamos {var}", "Находим {var}", "Nach {var} auflösen",
        "Trouvons {var}")
_phrase("back_substitute", "Substitute back to find {var}", "Sustituimos para hallar {var}",
        "Подставляем и находим {var}", "Einsetzen, um {var} zu finden", "Remplaçons pour trouver {var}")
_phrase("parallel", "The lines are parallel: no solution", "Las rectas son paralelas: no hay solución",
        "Прямые параллельны: решений нет", "Die Geraden sind parallel: keine Lösung",
        "Les droites sont parallèles : pas de solution")
_phrase("same_line", "Both equations describe the same line", "Las dos ecuaciones son la misma recta",
        "Оба уравнения задают одну прямую", "Beide Gleichungen beschreiben dieselbe Gerade",
        "Les deux équations décrivent la même droite")
# -- inequalities --------------------------------------------------------------------------------
_phrase("zeros", "Find where the left side is zero", "Buscamos dónde el lado izquierdo vale cero",
        "Находим нули левой части", "Nullstellen der linken Seite bestimmen",
        "Cherchons où le membre de gauche s'annule")
_phrase("sign", "Check the sign between the zeros", "Estudiamos el signo entre los ceros",
        "Определяем знак на промежутках", "Vorzeichen zwischen den Nullstellen prüfen",
        "Étudions le signe entre les zéros")
_phrase("each_part", "Solve each part", "Resolvemos cada parte", "Решаем каждую часть", "Jeden Teil lösen",
        "Résolvons chaque partie")
_phrase("both_hold", "Both conditions must hold", "Deben cumplirse ambas condiciones",
        "Должны выполняться оба условия", "Beide Bedingungen müssen gelten", "Les deux conditions doivent être vraies")
_phrase("number_line", "The solution on the number line", "La solución en la recta numérica",
        "Решение на числовой прямой", "Die Lösung auf dem Zahlenstrahl", "La solution sur la droite des réels")
# -- derivatives ---------------------------------------------------------------------------------
_phrase("rule.sum", "Sum rule", "Regla de la suma", "Производная суммы", "Summenregel", "Dérivée d'une somme")
_phrase("rule.power", "Power rule", "Regla de la potencia", "Производная степени", "Potenzregel",
        "Dérivée d'une puissance")
_phrase("rule.constant", "Constant factor rule", "Regla del factor constante",
        "Константа выносится за знак производной", "Faktorregel", "Constante multiplicative")
_phrase("rule.product", "Product rule", "Regla del producto", "Производная произведения", "Produktregel",
        "Dérivée d'un produit")
_phrase("rule.quotient", "Quotient rule", "Regla del cociente", "Производная частного", "Quotientenregel",
        "Dérivée d'un quotient")
_phrase("rule.chain", "Chain rule", "Regla de la cadena", "Производная сложной функции", "Kettenregel",
        "Dérivée d'une fonction composée")
_phrase("rule.table", "Standard derivatives", "Derivadas básicas", "Табличные производные", "Grundableitungen",
        "Dérivées usuelles")
_phrase("differentiate", "Differentiate", "Derivamos", "Дифференцируем", "Ableiten", "Dérivons")
_phrase("differentiate_again", "Differentiate once more", "Derivamos otra vez", "Дифференцируем ещё раз",
        "Noch einmal ableiten", "Dérivons encore une fois")
_phrase("simplify_result", "Simplify", "Simplificamos", "Упрощаем", "Vereinfachen", "Simplifions")
_phrase("function_and_derivative", "The function and its derivative", "La función y su derivada",
        "Функция и её производная", "Funktion und Ableitung", "La fonction et sa dérivée")
# -- integrals -----------------------------------------------------------------------------------
_phrase("rule.int_power", "Power rule for integrals", "Regla de la potencia para integrales",
        "Интеграл степени", "Potenzregel der Integration", "Primitive d'une puissance")
_phrase("rule.int_sum", "Integrate term by term", "Integramos término a término", "Интегрируем почленно",
        "Summandenweise integrieren", "Intégrons terme à terme")
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
        "Преобразуем подынтегральное выражение", "Integranden umformen", "Réécrivons l'intégrande")
_phrase("antiderivative", "Antiderivative", "Primitiva", "Первообразная", "Stammfunktion", "Primitive")
_phrase("check_derivative", "Check: the derivative gives back the integrand",
        "Comprobación: al derivar obtenemos el integrando", "Проверка: производная равна подынтегральной функции",
        "Probe: Ableiten ergibt den Integranden", "Vérification : en dérivant on retrouve l'intégrande")
_phrase("newton_leibniz", "Evaluate F(b) − F(a)", "Evaluamos F(b) − F(a)", "Формула Ньютона–Лейбница: F(b) − F(a)",
        "Hauptsatz: F(b) − F(a)", "Calculons F(b) − F(a)")
_phrase("area_under", "The integral is the signed area under the curve",
        "La integral es el área con signo bajo la curva", "Интеграл — площадь под графиком (со знаком)",
        "Das Integral ist die orientierte Fläche unter dem Graphen",
        "L'intégrale est l'aire algébrique sous la courbe")
_phrase("function_and_antiderivative", "The function and an antiderivative", "La función y una primitiva",
        "Функция и первообразная", "Funktion und Stammfunktion", "La fonction et une primitive")
# -- limits --------------------------------------------------------------------------------------
_phrase("substitute_point", "Substitute {var} = {point}", "Sustituimos {var} = {point}",
        "Подставляем {var} = {point}", "Setze {var} = {point} ein", "Remplaçons {var} par {point}")
_phrase("indeterminate", "Substitution gives the form 0/0", "Sustituir directamente da la forma 0/0",
        "Подстановка даёт неопределённость 0/0", "Einsetzen ergibt die Form 0/0",
        "La substitution donne la forme indéterminée 0/0")
_phrase("factor_cancel", "Factor and cancel the common factor", "Factorizamos y cancelamos el factor común",
        "Раскладываем на множители и сокращаем", "Faktorisieren und kürzen", "Factorisons et simplifions")
_phrase("lhopital", "L'Hôpital's rule: differentiate top and bottom",
        "Regla de L'Hôpital: derivamos numerador y denominador",
        "Правило Лопиталя: дифференцируем числитель и знаменатель",
        "Regel von L'Hospital: Zähler und Nenner ableiten",
        "Règle de L'Hôpital : dérivons numérateur et dénominateur")
_phrase("leading_terms", "For large {var} the highest powers decide",
        "Para {var} grande deciden las potencias mayores", "При больших {var} главную роль играют старшие степени",
        "Für große {var} entscheiden die höchsten Potenzen", "Pour {var} grand, les plus hautes puissances dominent")
_phrase("evaluate_limit", "Evaluate the limit", "Calculamos el límite", "Вычисляем предел",
        "Grenzwert berechnen", "Calculons la limite")
_phrase("one_sided", "The left and right limits differ", "Los límites laterales son distintos",
        "Односторонние пределы различны", "Links- und rechtsseitiger Grenzwert sind verschieden",
        "Les limites à gauche et à droite diffèrent")
# -- simplify / expand / factor ------------------------------------------------------------------
_phrase("distribute", "Multiply every term by every term", "Multiplicamos cada término por cada término",
        "Умножаем каждое слагаемое на каждое", "Jeden Term mit jedem multiplizieren",
        "Multiplions chaque terme par chaque terme")
_phrase("use_identity", "Use the identity", "Usamos la identidad", "Применяем формулу сокращённого умножения",
        "Binomische Formel anwenden", "Utilisons l'identité remarquable")
_phrase("combine", "Combine like terms", "Reducimos términos semejantes", "Приводим подобные слагаемые",
        "Gleichartige Terme zusammenfassen", "Regroupons les termes semblables")
_phrase("common_factor", "Take out the common factor", "Sacamos factor común", "Выносим общий множитель",
        "Gemeinsamen Faktor ausklammern", "Mettons en facteur le facteur commun")
_phrase("difference_of_squares", "Difference of squares", "Diferencia de cuadrados", "Разность квадратов",
        "Dritte binomische Formel", "Différence de deux carrés")
_phrase("perfect_square", "Perfect square", "Trinomio cuadrado perfecto", "Полный квадрат",
        "Binomische Formel", "Carré parfait")
_phrase("factor_further", "Factor what is left", "Factorizamos lo que queda", "Раскладываем оставшийся множитель",
        "Den Rest faktorisieren", "Factorisons ce qui reste")
_phrase("irreducible", "It cannot be factored further", "No se puede factorizar más",
        "Дальше на множители не раскладывается", "Lässt sich nicht weiter faktorisieren",
        "Ne se factorise pas davantage")
_phrase("factor_fraction", "Factor the numerator and the denominator", "Factorizamos numerador y denominador",
        "Раскладываем числитель и знаменатель", "Zähler und Nenner faktorisieren",
        "Factorisons numérateur et dénominateur")
_phrase("cancel", "Cancel the common factors", "Cancelamos los factores comunes", "Сокращаем общие множители",
        "Gemeinsame Faktoren kürzen", "Simplifions les facteurs communs")
_phrase("combine_fractions", "Put everything over one denominator", "Ponemos todo con un mismo denominador",
        "Приводим к общему знаменателю", "Auf einen Nenner bringen", "Mettons tout au même dénominateur")
_phrase("trig_identity", "Use the trigonometric identities", "Usamos las identidades trigonométricas",
        "Применяем тригонометрические тождества", "Trigonometrische Identitäten anwenden",
        "Utilisons les identités trigonométriques")
# -- arithmetic ----------------------------------------------------------------------------------
_phrase("common_denominator", "Common denominator {d}", "Común denominador {d}", "Общий знаменатель {d}",
        "Gemeinsamer Nenner {d}", "Dénominateur commun {d}")
_phrase("add_numerators", "Add the numerators", "Sumamos los numeradores", "Складываем числители",
        "Zähler addieren", "Additionnons les numérateurs")
_phrase("reduce", "Reduce the fraction", "Simplificamos la fracción", "Сокращаем дробь", "Bruch kürzen",
        "Simplifions la fraction")
_phrase("inner_first", "Work out the innermost operations first", "Primero las operaciones interiores",
        "Сначала выполняем внутренние действия", "Zuerst die inneren Rechnungen",
        "D'abord les opérations intérieures")
_phrase("calculate", "Calculate", "Calculamos", "Вычисляем", "Ausrechnen", "Calculons")
_phrase("decimal", "As a decimal", "En decimal", "В десятичной записи", "Als Dezimalzahl",
        "En écriture décimale")
_phrase("percent_means", "{p}% means {p}/100", "{p}% significa {p}/100", "{p}% — это {p}/100",
        "{p} % bedeutet {p}/100", "{p} % signifie {p}/100")
_phrase("multiply", "Multiply", "Multiplicamos", "Умножаем", "Multiplizieren", "Multiplions")
# -- plots ---------------------------------------------------------------------------------------
_phrase("function", "The function", "La función", "Функция", "Die Funktion", "La fonction")
_phrase("y_intercept", "Crossing the y-axis", "Corte con el eje y", "Пересечение с осью y",
        "Schnittpunkt mit der y-Achse", "Intersection avec l'axe des y")
_phrase("x_intercepts", "Zeros: crossing the x-axis", "Ceros: cortes con el eje x",
        "Нули: пересечение с осью x", "Nullstellen: Schnitt mit der x-Achse",
        "Zéros : intersections avec l'axe des x")
_phrase("no_zeros", "No zeros", "Sin ceros", "Нулей нет", "Keine Nullstellen", "Pas de zéro")
_phrase("extrema", "Turning points where f'(x) = 0", "Extremos donde f'(x) = 0", "Экстремумы: f'(x) = 0",
        "Extrempunkte: f'(x) = 0", "Extremums : f'(x) = 0")
_phrase("minimum", "minimum", "mínimo", "минимум", "Tiefpunkt", "minimum")
_phrase("maximum", "maximum", "máximo", "максимум", "Hochpunkt", "maximum")
_phrase("zeros_word", "zeros", "ceros", "нули", "Nullstellen", "zéros")
# -- geometry ------------------------------------------------------------------------------------
_phrase("pythagoras", "In a right triangle the legs and the hypotenuse satisfy",
        "En un triángulo rectángulo los catetos y la hipotenusa cumplen",
        "В прямоугольном треугольнике катеты и гипотенуза связаны так",
        "Im rechtwinkligen Dreieck gilt für Katheten und Hypotenuse",
        "Dans un triangle rectangle, les côtés vérifient")
_phrase("substitute_values", "Substitute the known values", "Sustituimos los valores conocidos",
        "Подставляем известные значения", "Bekannte Werte einsetzen", "Remplaçons par les valeurs connues")
_phrase("take_root", "Take the square root", "Sacamos la raíz cuadrada", "Извлекаем квадратный корень",
        "Wurzel ziehen", "Prenons la racine carrée")
_phrase("area_formula", "Area formula", "Fórmula del área", "Формула площади", "Flächenformel",
        "Formule de l'aire")
_phrase("diameter_to_radius", "The radius is half the diameter", "El radio es la mitad del diámetro",
        "Радиус равен половине диаметра", "Der Radius ist der halbe Durchmesser",
        "Le rayon est la moitié du diamètre")


def say(key: str, language: str, **values: object) -> str:
    """The phrase ``key`` in ``language`` (English when the language has none), filled in."""
    table = PHRASES[key]
    text = table.get(language) or table[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


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
