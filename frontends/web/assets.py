"""The page's look and its few lines of script.

CSS: the cards, the steps, the history, a phone layout; colours chosen for WCAG AA contrast
(4.5:1 or more for every text, checked in Chromium by tests/e2e/test_web_ui.py).

Scripts (each runs once, when its Gradio HTML component is mounted):

- ``KEYS_JS`` (the hint under the text box): Ctrl+Enter or Cmd+Enter makes the video; Enter and
  Shift+Enter insert a line break (Gradio's own Shift+Enter submit is stopped); the live
  character count against the limit that applies.
- ``JOBS_JS`` (the cards): a card's Cancel button, the scene code's Copy and Download
  buttons, an open code panel kept open while the cards update, and a video that has just
  become ready scrolled into view (below the fold on a phone) and played, one video at a time
  (none starts while another plays, and none when a reloaded page shows what was ready).
"""

from __future__ import annotations

CSS = """
:root, .light { --ma-accent: #4338ca; --ma-accent-text: #3730a3; --ma-error-text: #b91c1c; }
.dark { --ma-accent: #818cf8; --ma-accent-text: #c7d2fe; --ma-error-text: #fca5a5; }
.gradio-container { max-width: 1120px !important; margin: 0 auto !important; }
/* The lines, cards and list say themselves what is happening: Gradio's own progress text
   ("queue: 1/1 | 0.2s", "Error") would be drawn over them while an event runs. */
#ma-status [data-testid="status-tracker"], #ma-cards [data-testid="status-tracker"],
#ma-history [data-testid="status-tracker"] { display: none !important; }
#ma-title h1 { margin-bottom: 0.1em; }
#ma-privacy p { margin-top: 0; }
.ma-sr { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
#ma-hint { font-size: 0.85em; color: var(--body-text-color-subdued); margin: -4px 0 2px; }
#ma-hint p { margin: 2px 0; }
#ma-hint kbd { font-family: inherit; font-size: 0.95em; border: 1px solid var(--border-color-primary);
  border-radius: 4px; padding: 0 4px; background: var(--block-background-fill); }
#ma-hint .ma-count { font-variant-numeric: tabular-nums; }
#ma-hint .ma-count.ma-over { color: var(--ma-error-text); font-weight: 600; }
.ma-status { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  padding: 10px 14px; background: var(--block-background-fill); }
.ma-status-line { font-weight: 600; margin-bottom: 8px; overflow-wrap: anywhere; }
.ma-status .ma-status-line { margin-bottom: 0; }
.ma-notice { margin: 0 0 8px; font-weight: 600; }
.ma-refused .ma-status-line, .ma-failed .ma-status-line { color: var(--ma-error-text); }
.ma-jobs { display: flex; flex-direction: column-reverse; gap: 12px; }
.ma-job { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg); padding: 10px 14px;
  background: var(--block-background-fill); min-width: 0; }
.ma-job-problem { font-size: 1em; font-weight: 600; margin: 0 0 6px; overflow-wrap: anywhere; }
.ma-bar { height: 8px; border-radius: 4px; background: var(--neutral-200); overflow: hidden; }
.ma-bar-fill { height: 100%; background: var(--ma-accent); }
.ma-failed .ma-bar-fill, .ma-cancelled .ma-bar-fill { background: var(--ma-error-text); }
.ma-steps { display: flex; flex-wrap: wrap; gap: 4px 12px; list-style: none; padding: 0; margin: 8px 0 0;
  font-size: 0.85em; color: var(--body-text-color-subdued); }
.ma-steps li.done { color: var(--body-text-color); }
.ma-steps li.done::before { content: "✓ "; }
.ma-steps li.now::before { content: "● "; }
.ma-steps li.now { color: var(--ma-accent-text); font-weight: 600; }
.ma-steps li.failed { color: var(--ma-error-text); font-weight: 600; }
.ma-steps li.failed::before { content: "✗ "; }
.ma-job-cancel { margin-top: 8px; font-size: 0.85em; padding: 2px 10px; border-radius: var(--radius-md);
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill);
  color: var(--body-text-color); cursor: pointer; }
.ma-answer { margin: 10px 0 4px; font-size: 1.05em; overflow-wrap: anywhere; }
.ma-answer math { font-size: 1.15em; }
.ma-check { color: var(--body-text-color-subdued); font-size: 0.9em; font-style: italic; }
.ma-video { display: block; width: 100%; max-height: 60vh; margin-top: 8px; background: #000;
  border-radius: var(--radius-md); }
.ma-video-links { margin: 4px 0 0; font-size: 0.85em; }
.ma-video-links a { color: var(--ma-accent-text); }
.ma-solution { margin: 8px 0 0; font-size: 0.9em; }
.ma-solution-title { font-weight: 600; margin: 0 0 2px; }
.ma-solution ol { margin: 0; padding-left: 1.4em; }
.ma-solution li { margin: 2px 0; overflow-wrap: anywhere; }
.ma-details { margin: 6px 0 0; font-size: 0.85em; color: var(--body-text-color-subdued); }
.ma-code { margin-top: 8px; font-size: 0.9em; }
.ma-code summary { cursor: pointer; color: var(--ma-accent-text); }
.ma-code-tools { display: flex; gap: 8px; margin: 6px 0; }
.ma-code-tools button { font-size: 0.85em; padding: 2px 10px; border-radius: var(--radius-md); cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--button-secondary-background-fill);
  color: var(--body-text-color); }
.ma-code pre { max-height: 24em; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; margin: 0;
  padding: 8px; border-radius: var(--radius-md); background: var(--code-background-fill, var(--neutral-100));
  color: var(--body-text-color); font-size: 0.85em; }
.ma-history { width: 100%; table-layout: fixed; border-collapse: collapse; font-size: 0.9em; }
.ma-history th, .ma-history td { text-align: left; padding: 6px 8px; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; border-bottom: 1px solid var(--border-color-primary); }
.ma-history th:nth-child(1) { width: 52%; }
.ma-history th:nth-child(2), .ma-history th:nth-child(3) { width: 18%; }
.ma-empty { color: var(--body-text-color-subdued); margin: 4px 0; }
@media (max-width: 640px) {
  .gradio-container { padding: 0 6px !important; }
  #ma-title h1 { font-size: 1.5em; }
  .ma-steps { font-size: 0.8em; }
  .ma-history th:nth-child(4), .ma-history td:nth-child(4) { display: none; }
}
"""

KEYS_JS = """
const box = () => document.querySelector('#ma-problem textarea');
const inProblem = (event) => event.target instanceof Element && event.target.closest('#ma-problem') !== null;
const counter = element.querySelector('.ma-count');
const limit = Number(counter ? counter.dataset.limit : 0);
const refresh = () => {
  const area = box();
  if (!area || !counter) return;
  const count = area.value.length;
  const text = `${count} / ${limit} characters`;
  if (counter.textContent !== text) counter.textContent = text;
  counter.classList.toggle('ma-over', count > limit);
  if (!area.hasAttribute('aria-describedby')) area.setAttribute('aria-describedby', 'ma-hint-text');
};
document.addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' || !inProblem(event)) return;
  if (event.ctrlKey || event.metaKey) {
    event.preventDefault();
    event.stopPropagation();
    const button = document.querySelector('#ma-generate');
    if (button) button.click();
  }
}, true);
// Gradio submits a multi-line box on Shift+Enter (keypress): here every Enter without Ctrl or Cmd
// is a line break, as the hint says.
document.addEventListener('keypress', (event) => {
  if (event.key === 'Enter' && inProblem(event)) event.stopPropagation();
}, true);
document.addEventListener('input', (event) => { if (inProblem(event)) refresh(); }, true);
// An example picked from the list changes the text without an input event.
setInterval(refresh, 400);
refresh();
"""

JOBS_JS = """
const seen = new Set();
const openCode = new Set();
const fullyVisible = (el) => {
  const r = el.getBoundingClientRect();
  return r.top >= -1 && r.bottom <= (window.innerHeight || document.documentElement.clientHeight) + 1;  // sub-pixels
};
// A video that has just become ready is brought into view (on a phone it is below the fold)
// and started, unless another one is playing: that one is not interrupted. It is kept in view
// while its size becomes known and the cards around it change, until the visitor scrolls.
let keepInView = null;
const visitorMoved = () => { keepInView = null; };
['wheel', 'touchmove', 'keydown'].forEach((name) => window.addEventListener(name, visitorMoved, {passive: true}));
const resized = new ResizeObserver(() => {
  if (keepInView && keepInView.isConnected && !fullyVisible(keepInView)) keepInView.scrollIntoView({block: 'nearest'});
});
const reveal = (video) => {
  const busy = [...element.querySelectorAll('video')].some((other) => other !== video && !other.paused && !other.ended);
  if (busy) return;
  keepInView = video;
  resized.observe(video);
  if (!fullyVisible(video)) video.scrollIntoView({block: 'nearest'});
  const playing = video.play();
  if (playing) playing.catch(() => {});
};
const update = () => {
  element.querySelectorAll('details.ma-code').forEach((panel) => {
    const open = openCode.has(panel.dataset.job);
    if (panel.open !== open) panel.open = open;
  });
  const list = element.querySelector('.ma-jobs');
  const live = list !== null && list.dataset.origin !== 'load';
  element.querySelectorAll('video.ma-video').forEach((video) => {
    const key = video.getAttribute('src');
    if (seen.has(key)) return;
    seen.add(key);
    if (live) reveal(video);
  });
};
const copyText = async (text) => {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); return true; } catch (error) { /* fall back */ }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  const done = document.execCommand('copy');
  area.remove();
  return done;
};
element.addEventListener('click', async (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  const cancel = target.closest('.ma-job-cancel');
  if (cancel) {
    cancel.disabled = true;
    cancel.textContent = 'Cancelling…';
    trigger('cancel_job', {job: cancel.dataset.job});
    return;
  }
  const summary = target.closest('details.ma-code > summary');
  if (summary) {
    const panel = summary.parentElement;
    if (panel.open) openCode.delete(panel.dataset.job); else openCode.add(panel.dataset.job);
    return;
  }
  const panel = target.closest('details.ma-code');
  const code = panel ? panel.querySelector('code').textContent : '';
  if (target.closest('.ma-copy')) {
    const button = target.closest('.ma-copy');
    button.textContent = (await copyText(code)) ? 'Copied' : 'Select the code and copy it';
  } else if (target.closest('.ma-save')) {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([code], {type: 'text/x-python'}));
    link.download = 'scene.py';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }
});
// One video plays at a time.
element.addEventListener('play', (event) => {
  element.querySelectorAll('video').forEach((video) => { if (video !== event.target) video.pause(); });
}, true);
watch('value', update);
resized.observe(element);  // the cards grow and shrink as their jobs move on
update();
"""
