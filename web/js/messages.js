// Plain-language wording for the server's stable error codes (PROTOCOL.md section 4) and for
// the ways a lesson can end, written for pupils as young as eleven.
// @ts-check

/** @typedef {{title: string, text: string, retry?: boolean}} Explanation */

/** @type {Record<string, Explanation>} */
const EXPLANATIONS = {
  not_on_roster: {
    title: 'This lesson is not for your class',
    text: "You are not on this class's list, so you can't join this lesson. If you think that is wrong, tell your teacher.",
  },
  lesson_not_live: {
    title: 'This lesson is not live',
    text: 'The lesson has not started yet, or it has already finished.',
    retry: true,
  },
  teacher_absent: {
    title: 'Your teacher is not here yet',
    text: 'The lesson starts when your teacher joins. Try again in a minute.',
    retry: true,
  },
  removed_by_teacher: {
    title: 'You were removed from the lesson',
    text: 'Your teacher removed you from this lesson, so you cannot join it again.',
  },
  wrong_school: {
    title: 'This lesson is at another school',
    text: 'This lesson belongs to a different school, so your account cannot join it.',
  },
  consent_missing: {
    title: 'A form is missing',
    text: 'You and your parent or carer need to sign the live lesson agreement before you can join. Ask your school.',
  },
  domain_not_trusted: {
    title: 'This account cannot join',
    text: 'Only school accounts can join live lessons. Sign in with your school account.',
  },
  replaced: {
    title: 'You joined somewhere else',
    text: 'You joined this lesson from another tab or device, so it has stopped here.',
    retry: true,
  },
  lesson_ended: {
    title: 'The lesson has ended',
    text: 'Thanks for joining. You can close this page or go back to your classes.',
  },
  left: {
    title: 'You left the lesson',
    text: 'You can join again while the lesson is still live.',
    retry: true,
  },
  not_found: {
    title: 'Lesson not found',
    text: 'We could not find that lesson. The link may be wrong.',
  },
  forbidden_role: {
    title: 'Not allowed',
    text: 'Your account is not allowed to do that.',
  },
  not_signed_in: {
    title: 'Please sign in',
    text: 'You have been signed out. Please sign in again.',
  },
  bad_credentials: {
    title: 'Sign-in failed',
    text: 'That email or password is not right. Check them and try again.',
  },
  not_granted: {
    title: 'Not allowed yet',
    text: 'Your teacher has not turned that on for you.',
  },
  unsupported_media: {
    title: 'Media not accepted',
    text: 'Your browser sent video or sound the lesson cannot use. Try an up-to-date browser.',
  },
  bad_sdp: {
    title: 'Connection problem',
    text: 'Your browser and the lesson could not agree how to connect. Try again or use another browser.',
    retry: true,
  },
  network: {
    title: 'Cannot reach the server',
    text: 'Check your internet connection, then try again.',
    retry: true,
  },
  internal: {
    title: 'Something went wrong',
    text: 'Something went wrong on our side. Please try again.',
    retry: true,
  },
};

/**
 * @param {string} code a stable error code or lesson end reason
 * @returns {Explanation}
 */
export function explain(code) {
  return EXPLANATIONS[code] || {
    title: 'Something went wrong',
    text: `The lesson could not continue (${code}). Please try again.`,
    retry: true,
  };
}
