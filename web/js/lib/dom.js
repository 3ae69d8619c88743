// Small DOM helpers shared by every page: element lookup, element building, view switching
// with focus management, a screen-reader announcer, and play() that tolerates autoplay rules.
// No protocol code here. Like all of lib/, it imports nothing outside lib/.
// @ts-check

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return /** @type {T} */ (el);
}

/**
 * Builds an element. `attrs` values: strings become attributes, booleans toggle them.
 * @param {string} tag
 * @param {Record<string, string | boolean>} [attrs]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === true) el.setAttribute(name, '');
    else if (value !== false) el.setAttribute(name, value);
  }
  for (const child of children) el.append(child);
  return el;
}

/** @param {string} text */
export function visuallyHidden(text) {
  return h('span', { class: 'visually-hidden' }, [text]);
}

const VIEWS = ['loading', 'signin', 'password', 'home', 'admin', 'recordings', 'notice', 'message', 'lesson', 'conduct', 'second-factor', 'two-step'];

/** @type {string} */
let currentView = 'loading';
/** How many views have been shown since the page loaded. */
let viewsShown = 0;

/**
 * True while the page shows the first view it drew after loading: nothing has moved focus
 * yet, so a keyboard user's first Tab reaches the skip link, which comes first on every page.
 */
export function firstView() {
  return viewsShown <= 1;
}

/**
 * Shows one view, hides the others, and (after the page's first view) moves focus to its
 * heading so keyboard and screen-reader users start at the top of the new content. The page's
 * first view takes no focus: the first Tab then goes to the skip link.
 * @param {string} name
 */
export function showView(name) {
  for (const v of VIEWS) byId(`view-${v}`).hidden = v !== name;
  currentView = name;
  viewsShown += 1;
  document.body.dataset.view = name;
  const heading = byId(`view-${name}`).querySelector('h1');
  if (heading instanceof HTMLElement && !firstView()) heading.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

export function view() {
  return currentView;
}

/** @param {string} text */
export function announce(text) {
  const el = byId('announcer');
  el.textContent = '';
  // A fresh text node after a tick makes screen readers read repeated messages again.
  setTimeout(() => { el.textContent = text; }, 50);
}

/**
 * Plays a media element, reporting whether the browser's autoplay policy allowed it.
 * @param {HTMLMediaElement} media
 * @returns {Promise<boolean>}
 */
export async function tryPlay(media) {
  try {
    await media.play();
    return true;
  } catch (err) {
    if (err instanceof DOMException && err.name === 'NotAllowedError') return false;
    return true; // AbortError etc.: a newer load replaced this one
  }
}
