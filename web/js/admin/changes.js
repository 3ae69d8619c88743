// What changed in the school's directory, so that every list on the admin page showing it
// draws itself again without a reload: a change (adding a person, an import, a consent form, a
// domain, a class place) is announced here by topic, and each list listens for the topics it
// shows while its section is on screen.
// @ts-check

/**
 * @typedef {'users' | 'classes' | 'members' | 'consent' | 'domains' | 'privacy'} Topic
 * @typedef {{topics: Topic[], fn: () => void, alive: () => boolean}} Listener
 */

/** @type {Set<Listener>} */
const listeners = new Set();

/**
 * Says that these kinds of data changed; each live list that shows any of them redraws.
 * @param {...Topic} topics
 */
export function changed(...topics) {
  for (const l of [...listeners]) {
    if (!l.alive()) listeners.delete(l);
    else if (l.topics.some((t) => topics.includes(t))) l.fn();
  }
}

/**
 * Calls `fn` after each change of these topics, for as long as `alive()` holds (a section's
 * `isCurrent`): a list gone from the page stops listening.
 * @param {Topic[]} topics
 * @param {() => void} fn
 * @param {() => boolean} alive
 */
export function onChange(topics, fn, alive) {
  listeners.add({ topics, fn, alive });
}
