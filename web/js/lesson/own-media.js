// The teacher's own camera, microphone and screen, each switched on and off by itself, and the
// microphone's live level. What is published follows from what is on (PROTOCOL.md "Stream
// kinds"): with the camera on, one `camera` stream carries the camera and the microphone (a
// muted microphone's track is disabled: no renegotiation, pupils hear silence at once); with
// the camera off and the microphone on, a `microphone` stream alone, so the teacher can talk
// while no video is sent; with both off, nothing. The screen is its own `screen` stream.
// @ts-check

import { byId, tryPlay } from '../lib/dom.js';
import { httpsAdvice, needsHttps } from '../lib/secure.js';
import { deviceError, stopTracks } from './media.js';

/** @typedef {import('../lib/signalling.js').LessonConnection} LessonConnection */

/** How often the level meter is redrawn. */
const METER_MS = 100;

export class OwnMedia {
  /**
   * @param {LessonConnection} conn
   * @param {() => void} changed called whenever what is on, or an error, changes
   */
  constructor(conn, changed) {
    this.conn = conn;
    this.changed = changed;
    /** @type {MediaStreamTrack | null} */
    this.video = null;
    /** @type {MediaStreamTrack | null} */
    this.audio = null;
    /** @type {MediaStream | null} */
    this.screen = null;
    this.micOn = false;
    this.busy = false;
    /** The last device failure, said until the next attempt. */
    this.error = '';
    /** @type {'camera' | 'microphone' | null} what carries our sound and picture now */
    this.published = null;
    /** @type {{ctx: AudioContext, timer: ReturnType<typeof setInterval>} | null} */
    this.meter = null;
    this.gone = false;
  }

  get camOn() {
    return this.video !== null;
  }

  /** Camera and microphone on, as a lesson starts. */
  async start() {
    await this.acquire({ video: true, audio: true });
  }

  destroy() {
    this.gone = true;
    this.stopMeter();
    stopTracks(this.screen);
    this.video?.stop();
    this.audio?.stop();
    this.video = null;
    this.audio = null;
    this.screen = null;
    /** @type {HTMLVideoElement} */ (byId('t-preview')).srcObject = null;
    /** @type {HTMLVideoElement} */ (byId('t-screen-preview')).srcObject = null;
  }

  /** @param {MediaStreamConstraints} want */
  async acquire(want) {
    if (this.busy) return;
    if (needsHttps()) {
      // Not a secure address: the browser has no camera to give; say why, not "it failed".
      this.error = httpsAdvice('teacher');
      this.changed();
      return;
    }
    this.busy = true;
    this.error = '';
    this.changed();
    try {
      const media = await navigator.mediaDevices.getUserMedia(want);
      if (this.gone) {
        stopTracks(media);
        return;
      }
      const [video] = media.getVideoTracks();
      const [audio] = media.getAudioTracks();
      if (video) this.video = video;
      if (audio) {
        this.audio?.stop();
        this.audio = audio;
        this.micOn = true;
        this.startMeter(audio);
      }
      this.showPreview();
      this.sync();
    } catch (err) {
      const what = want.video && want.audio ? 'camera and microphone' : want.video ? 'camera' : 'microphone';
      this.error = `Your ${what} did not start. ${deviceError(err)}`;
    } finally {
      this.busy = false;
      this.changed();
    }
  }

  async toggleCamera() {
    if (this.video) {
      this.video.stop();
      this.video = null;
      this.showPreview();
      this.sync();
      this.changed();
    } else {
      await this.acquire({ video: true });
    }
  }

  async toggleMic() {
    if (!this.audio) {
      await this.acquire({ audio: true });
      return;
    }
    this.micOn = !this.micOn;
    this.audio.enabled = this.micOn;
    this.sync();
    this.changed();
  }

  /**
   * Publishes what is on: the camera (with the microphone's track, enabled or not), or the
   * microphone alone, or nothing. Only a change of kind or of tracks republishes.
   */
  sync() {
    /** @type {'camera' | 'microphone' | null} */
    const want = this.video ? 'camera' : this.audio && this.micOn ? 'microphone' : null;
    const tracks = want === 'camera'
      ? [this.video, this.audio].filter((t) => t !== null)
      : want === 'microphone' ? [this.audio] : [];
    const current = this.published ? this.conn.publications.get(this.published) : undefined;
    const same = current && want === this.published
      && current.media.getTracks().length === tracks.length
      && tracks.every((t) => t && current.media.getTracks().includes(t));
    if (same) return;
    if (this.published && this.published !== want) this.conn.unpublish(this.published);
    this.published = want;
    if (want) this.conn.publish(want, new MediaStream(/** @type {MediaStreamTrack[]} */ (tracks)));
  }

  /**
   * The server or the network ended one of our streams: what it carried is off now.
   * @param {string} kind
   */
  ended(kind) {
    if (kind === 'screen') {
      this.stopScreen();
      return;
    }
    if (kind !== this.published) return;
    this.published = null;
    this.video?.stop();
    this.video = null;
    if (kind === 'microphone') this.micOn = false;
    this.showPreview();
    this.error = kind === 'camera' ? 'Your camera stopped. Choose "Turn camera on" to try again.' : '';
    this.changed();
  }

  async toggleScreen() {
    if (this.screen) {
      this.stopScreen();
      return;
    }
    if (needsHttps()) {
      this.error = httpsAdvice('teacher');
      this.changed();
      return;
    }
    let media;
    try {
      media = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      this.error = `Screen sharing did not start. ${deviceError(err)}`;
      this.changed();
      return;
    }
    if (this.gone) {
      stopTracks(media);
      return;
    }
    this.error = '';
    this.screen = media;
    for (const track of media.getVideoTracks()) {
      // The browser's own "Stop sharing" bar ends the track.
      track.addEventListener('ended', () => { if (this.screen === media) this.stopScreen(); });
    }
    const preview = /** @type {HTMLVideoElement} */ (byId('t-screen-preview'));
    preview.muted = true;
    preview.srcObject = media;
    byId('t-screen-tile').hidden = false;
    byId('teacher-console').classList.add('is-sharing');
    void tryPlay(preview);
    this.conn.publish('screen', new MediaStream(media.getVideoTracks()));
    this.changed();
  }

  stopScreen() {
    if (!this.screen) return;
    this.conn.unpublish('screen');
    stopTracks(this.screen);
    this.screen = null;
    /** @type {HTMLVideoElement} */ (byId('t-screen-preview')).srcObject = null;
    byId('t-screen-tile').hidden = true;
    byId('teacher-console').classList.remove('is-sharing');
    this.changed();
  }

  showPreview() {
    const preview = /** @type {HTMLVideoElement} */ (byId('t-preview'));
    preview.muted = true;
    preview.srcObject = this.video ? new MediaStream([this.video]) : null;
    byId('t-preview-off').hidden = Boolean(this.video);
    if (this.video) void tryPlay(preview);
  }

  /**
   * The level meter: the microphone's loudness, drawn every METER_MS (a muted microphone's
   * disabled track reads as silence).
   * @param {MediaStreamTrack} track
   */
  startMeter(track) {
    this.stopMeter();
    const meter = /** @type {HTMLMeterElement} */ (byId('t-mic-level'));
    let ctx;
    try {
      ctx = new AudioContext();
    } catch {
      return; // no Web Audio: no meter, the microphone still works
    }
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 512;
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      if (ctx.state === 'suspended') void ctx.resume();
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      const rms = Math.sqrt(sum / samples.length);
      // Speech sits around 0.02 to 0.2 RMS: spread it over the bar.
      meter.value = this.micOn ? Math.min(1, rms * 5) : 0;
    }, METER_MS);
    this.meter = { ctx, timer };
  }

  stopMeter() {
    if (!this.meter) return;
    clearInterval(this.meter.timer);
    void this.meter.ctx.close();
    this.meter = null;
  }
}
