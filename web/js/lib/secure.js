// Whether this page may use the camera and microphone at all, and what to say when it may not.
// Browsers give a page `getUserMedia` only in a secure context: an https:// address, or this
// machine itself (localhost, 127.x.x.x, ::1). Opened as http://<server>:8080 from another
// device (a phone on the school's network, as the README's quick start once suggested), the
// call does not exist, and "the browser could not start it" would explain nothing. The lesson
// pages ask here first and say why, and what to do, instead. Like all of lib/, it imports
// nothing outside lib/.
// @ts-check

/**
 * True when the browser will refuse the camera and microphone because the page's address is
 * not secure: not a secure context, and not this machine (which browsers always trust).
 * @param {{isSecureContext: boolean, location: {hostname: string}}} [win]
 */
export function needsHttps(win = window) {
  if (win.isSecureContext) return false;
  const host = win.location.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const local = host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
  return !local;
}

/**
 * Why the camera and microphone cannot start on this address, and what to do, for the teacher
 * or a pupil.
 * @param {'teacher' | 'pupil'} who
 * @param {{location: {hostname: string}}} [win]
 */
export function httpsAdvice(who, win = window) {
  // Its https:// address is usually the same name on the standard port (a proxy, or the
  // built-in TLS on 443); the port of the http:// page says nothing about it.
  const secure = `https://${win.location.hostname}/`;
  const why = 'Browsers let a page use the camera and microphone only at a secure address (one that starts with https://), and this page was opened at an http:// address.';
  return who === 'teacher'
    ? `Your camera and microphone cannot start here. ${why} Open Livegate at its https:// address (such as ${secure}) instead. If there is none, ask your IT support to set up HTTPS for Livegate.`
    : `Your microphone and camera cannot start here. ${why} Ask your teacher or the school's IT support for the https:// link to the lesson. You can still watch and listen.`;
}
