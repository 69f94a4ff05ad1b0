"""Mechanical layout fixes: prelude code that corrects, at run time, the layout defects that
have one safe correction (the layout gate, appliance/sandbox/layout.py, finds the rest).

Where a text ends up is only known once the scene runs (its width depends on the font and
on TeX), so these are not AST rewrites but part of the prelude the sandbox runs in the
scene's namespace before the code (``COMPAT_PRELUDE`` ends with ``LAYOUT_FIXES_PRELUDE``).
They act when a mobject enters the screen (``Scene.add``, which every introducing animation
calls before it starts) and on the target of a transform, and touch only *texts* (Text,
MarkupText, Paragraph, Tex, MathTex, DecimalNumber) and plain groups made only of texts:

``fit_wide_text``
    A text (or text group) wider or taller than the visible frame, less ``FIT_MARGIN`` at
    each side, is scaled down about its centre to fit, then moved inside the frame if it
    still crosses an edge. (Nothing else can be right about a formula wider than the screen.)
``lift_off_tick_labels``
    A text that is added on top of an axis's numbers (its box shares more than 15 % of the
    smaller box with a tick label, the gate's overlap threshold) moves to the other side of
    that axis, just clear of the line, if it overlaps no tick label there; otherwise it stays.

Each fix counts how often it fired in ``_compat_layout_fixes``; the sandbox's runner puts the
counts in the layout recording, and the gate's report carries them (``LayoutReport.fixes``).
"""

from __future__ import annotations

FIX_NAMES = ("fit_wide_text", "lift_off_tick_labels")

LAYOUT_FIXES_PRELUDE: str = r'''

# -- mechanical layout fixes (appliance/repair/layout_fixes.py) ------------------------------

_compat_layout_fixes = {"fit_wide_text": 0, "lift_off_tick_labels": 0}
_COMPAT_TEXT_TYPES = (Text, MarkupText, Paragraph, SingleStringMathTex, DecimalNumber)
_COMPAT_FIT_MARGIN = 0.25
_COMPAT_OVERLAP = 0.15
_COMPAT_LIFT_BUFF = 0.15


def _compat_only_text(mobject):
    """A text, or a plain group whose members are all texts (or such groups)."""
    if isinstance(mobject, _COMPAT_TEXT_TYPES):
        return True
    if type(mobject) in (VGroup, Group) and mobject.submobjects and not len(mobject.points):
        return all(_compat_only_text(member) for member in mobject.submobjects)
    return False


def _compat_frame(scene):
    camera = getattr(scene, "camera", None)
    try:
        center = _compat_np.asarray(camera.frame_center, dtype=float)
        return center[0], center[1], float(camera.frame_width), float(camera.frame_height)
    except Exception:
        return 0.0, 0.0, float(config.frame_width), float(config.frame_height)


def _compat_fit_wide_text(mobject, scene=None):
    if not _compat_only_text(mobject) or not len(mobject.get_all_points()):
        return
    cx, cy, width, height = _compat_frame(scene)
    room_x, room_y = width - 2 * _COMPAT_FIT_MARGIN, height - 2 * _COMPAT_FIT_MARGIN
    factor = min(1.0, room_x / max(mobject.width, 1e-6), room_y / max(mobject.height, 1e-6))
    if factor >= 0.99:
        return
    mobject.scale(factor)
    dx = dy = 0.0
    left, right = cx - room_x / 2, cx + room_x / 2
    bottom, top = cy - room_y / 2, cy + room_y / 2
    if mobject.get_left()[0] < left:
        dx = left - mobject.get_left()[0]
    elif mobject.get_right()[0] > right:
        dx = right - mobject.get_right()[0]
    if mobject.get_bottom()[1] < bottom:
        dy = bottom - mobject.get_bottom()[1]
    elif mobject.get_top()[1] > top:
        dy = top - mobject.get_top()[1]
    if dx or dy:
        mobject.shift(_compat_np.array([dx, dy, 0.0]))
    _compat_layout_fixes["fit_wide_text"] += 1


def _compat_box(mobject):
    points = mobject.get_all_points()
    low, high = points.min(axis=0), points.max(axis=0)
    return low[0], low[1], high[0], high[1]


def _compat_overlaps(a, b):
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return False
    smaller = min(max(a[2] - a[0], 0.05) * max(a[3] - a[1], 0.05), max(b[2] - b[0], 0.05) * max(b[3] - b[1], 0.05))
    return width * height / smaller > _COMPAT_OVERLAP


def _compat_tick_labels(scene, arriving=()):
    """(number line, its tick labels with their boxes) for every number line on screen or
    arriving with the same play, alone or as an axis of a coordinate system (two levels deep:
    cheap enough for every add)."""
    found = []
    lines = []
    for mobject in [*scene.mobjects, *arriving]:
        lines.extend([mobject] if isinstance(mobject, NumberLine) else [
            child for child in mobject.submobjects if isinstance(child, NumberLine)])
    for mobject in lines:
        numbers = getattr(mobject, "numbers", None)
        labels = [n for n in (numbers.submobjects if numbers is not None else []) if len(n.get_all_points())]
        if labels:
            found.append((mobject, [(label, _compat_box(label)) for label in labels]))
    return found


def _compat_lift_off_tick_labels(mobject, scene, arriving=()):
    if not _compat_only_text(mobject) or not len(mobject.get_all_points()):
        return
    lines = _compat_tick_labels(scene, arriving)
    mine = {id(member) for member in mobject.get_family()}
    box = _compat_box(mobject)
    for line, labels in lines:
        if not any(id(label) not in mine and _compat_overlaps(box, label_box) for label, label_box in labels):
            continue
        start, end = line.get_start(), line.get_end()
        middle = line.get_center()
        label_center = labels[0][0].get_center()
        if abs(end[0] - start[0]) >= abs(end[1] - start[1]):
            axis_y = middle[1]
            if label_center[1] <= axis_y:
                shift = _compat_np.array([0.0, axis_y + _COMPAT_LIFT_BUFF - box[1], 0.0])
            else:
                shift = _compat_np.array([0.0, axis_y - _COMPAT_LIFT_BUFF - box[3], 0.0])
        else:
            axis_x = middle[0]
            if label_center[0] <= axis_x:
                shift = _compat_np.array([axis_x + _COMPAT_LIFT_BUFF - box[0], 0.0, 0.0])
            else:
                shift = _compat_np.array([axis_x - _COMPAT_LIFT_BUFF - box[2], 0.0, 0.0])
        moved = (box[0] + shift[0], box[1] + shift[1], box[2] + shift[0], box[3] + shift[1])
        if not _compat_clear(scene, arriving, mine, moved):
            return  # no clear place on the other side: leave it for the layout gate to report
        mobject.shift(shift)
        _compat_layout_fixes["lift_off_tick_labels"] += 1
        return


def _compat_clear(scene, arriving, mine, moved):
    """Whether a box is inside the frame and clear of every other text on screen or arriving."""
    cx, cy, width, height = _compat_frame(scene)
    if moved[0] < cx - width / 2 or moved[2] > cx + width / 2 or moved[1] < cy - height / 2 \
            or moved[3] > cy + height / 2:
        return False
    seen = set(mine)
    pending = [*scene.mobjects, *arriving]
    while pending:
        other = pending.pop()
        if id(other) in seen:
            continue
        seen.add(id(other))
        if isinstance(other, _COMPAT_TEXT_TYPES):
            if len(other.get_all_points()) and _compat_overlaps(moved, _compat_box(other)):
                return False
        else:
            pending.extend(other.submobjects)
    return True


def _compat_fix_layout(scene, mobjects, arriving=()):
    for mobject in mobjects:
        try:
            _compat_fit_wide_text(mobject, scene)
            _compat_lift_off_tick_labels(mobject, scene, arriving)
        except Exception:
            pass  # a fix is never worth a failed render


def _compat_introduced(animations):
    """The mobjects a play's animations bring on screen (groups of animations included)."""
    found = []
    for animation in animations:
        inner = getattr(animation, "animations", None)
        if inner:
            found.extend(_compat_introduced(inner))
        elif animation.is_introducer() and getattr(animation, "mobject", None) is not None:
            found.append(animation.mobject)
    return found


_compat_original_begin_animations = Scene.begin_animations


@_compat_functools.wraps(_compat_original_begin_animations)
def _compat_begin_animations(self, *args, **kwargs):
    # Before any animation begins, while everything still has its final shape (a Create starts
    # from nothing), texts arriving with axes created in the same play can be checked.
    try:
        arriving = _compat_introduced(self.animations)
        _compat_fix_layout(self, arriving, arriving)
    except Exception:
        pass
    return _compat_original_begin_animations(self, *args, **kwargs)


Scene.begin_animations = _compat_begin_animations


_compat_original_add = Scene.add


@_compat_functools.wraps(_compat_original_add)
def _compat_add(self, *mobjects, **kwargs):
    result = _compat_original_add(self, *mobjects, **kwargs)
    _compat_fix_layout(self, mobjects)
    return result


Scene.add = _compat_add


def _compat_fit_target(owner):
    original = owner.__init__

    @_compat_functools.wraps(original)
    def fitted(self, mobject, target_mobject=None, *args, **kwargs):
        if target_mobject is not None:
            try:
                _compat_fit_wide_text(target_mobject)
            except Exception:
                pass
        return original(self, mobject, target_mobject, *args, **kwargs)

    owner.__init__ = fitted


_compat_fit_target(Transform)
_compat_fit_target(TransformMatchingShapes.__bases__[0])  # TransformMatchingAbstractBase
'''
