// Media helpers shared by the teacher console and the pupil view: tiles that play received
// streams, autoplay handling, stopping local tracks, and plain reasons for device failures.
// @ts-check

import { h, tryPlay } from '../lib/dom.js';

/** @typedef {import('../lib/signalling.js').ReceivedStream} ReceivedStream */
/** @typedef {import('../lib/api.js').StreamKind} StreamKind */

const KIND_WORDS = /** @type {Record<StreamKind, string>} */ ({
  camera: 'camera', microphone: 'microphone', screen: 'screen',
});

/**
 * Builds a figure that plays one received stream. Video kinds use a <video> element (which
 * also plays the stream's audio); a microphone stream uses an <audio> element.
 * @param {ReceivedStream} received
 * @param {string} name the publisher's display name
 * @returns {{tile: HTMLElement, media: HTMLMediaElement}}
 */
export function mediaTile(received, name) {
  const audioOnly = received.kind === 'microphone';
  const media = /** @type {HTMLMediaElement} */ (audioOnly
    ? h('audio', { autoplay: true })
    : h('video', { class: 'tile-video', autoplay: true, playsinline: true }));
  media.srcObject = received.stream;
  const caption = audioOnly ? `${name}: microphone on` : `${name}: ${KIND_WORDS[received.kind]}`;
  /** @type {(Node | string)[]} */
  const children = audioOnly
    ? [h('span', { class: 'tile-audio-icon', 'aria-hidden': 'true' }), media]
    : [media];
  children.push(h('figcaption', {}, [caption]));
  const tile = h('figure', {
    class: audioOnly ? 'tile tile-audio' : 'tile',
    'data-stream-id': received.streamId,
    'data-publisher-id': received.publisherId,
    'data-kind': received.kind,
  }, children);
  return { tile, media };
}

/**
 * Starts playback of every media element in a container; reports whether all were allowed.
 * @param {ParentNode} root
 */
export async function playAll(root) {
  const results = await Promise.all(
    [...root.querySelectorAll('video, audio')].map((m) => tryPlay(/** @type {HTMLMediaElement} */ (m))),
  );
  return results.every(Boolean);
}

/**
 * Stops and forgets every track of a local stream.
 * @param {MediaStream | null} media
 */
export function stopTracks(media) {
  if (media) for (const t of media.getTracks()) t.stop();
}

/**
 * A plain reason for a failed getUserMedia / getDisplayMedia call.
 * @param {unknown} err
 */
export function deviceError(err) {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError') return 'The browser was not allowed to use it. Check the permission in the address bar.';
  if (name === 'NotFoundError') return 'No camera or microphone was found.';
  if (name === 'NotReadableError') return 'Another app may be using it.';
  return 'The browser could not start it.';
}
