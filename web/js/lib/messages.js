// Plain-language wording for the server's stable error codes (PROTOCOL.md section 4) and for
// the ways a lesson can end, written for pupils as young as eleven.
// @ts-check

/**
 * `ask`: who can fix it (the teacher for the class list and removals, the school office for
 * accounts, trusted domains and consent forms); `conduct`: the page offers the school's code of
 * conduct to read; `signOut`: the page offers to sign out, for an account whose email domain
 * the school does not trust (so another, school, account may work).
 * @typedef {{title: string, text: string, retry?: boolean, ask?: 'teacher' | 'office',
 *   conduct?: boolean, signOut?: boolean}} Explanation
 */

/** @type {Record<string, Explanation>} */
const EXPLANATIONS = {
  not_on_roster: {
    title: 'This lesson is not for your class',
    text: "You are not on this class's list, so you can't join this lesson. If you think that is wrong, ask your teacher to add you to the class list.",
    ask: 'teacher',
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
    text: 'Your teacher removed you from this lesson, so you cannot join it again. Talk to your teacher if you need to.',
    ask: 'teacher',
  },
  refused_by_teacher: {
    title: 'The teacher did not let you in',
    text: 'The teacher turned down your request to join this lesson. Contact them if you think this is a mistake.',
  },
  in_lobby: {
    title: 'Waiting to be let in',
    text: 'You are in the lobby. The teacher will let you in when they are ready.',
  },
  consent_withdrawn: {
    title: 'You cannot join live lessons now',
    text: 'The permission for you to join live lessons has been withdrawn. Ask the school office what to do next.',
    ask: 'office',
    conduct: true,
  },
  consent_opted_out: {
    title: 'Live lessons are not for you right now',
    text: 'Your parent or carer has chosen another way for you to learn. The school office can tell you what to do instead.',
    ask: 'office',
    conduct: true,
  },
  account_disabled: {
    title: 'This account is switched off',
    text: 'Your account cannot be used at the moment. Ask the school office to switch it back on.',
    ask: 'office',
  },
  camera_always_off: {
    title: 'Camera stays off',
    text: "The school's privacy setting keeps this camera off in live lessons.",
  },
  wrong_school: {
    title: 'This lesson is at another school',
    text: 'This lesson belongs to a different school, so your account cannot join it.',
  },
  consent_missing: {
    title: 'A form is missing',
    text: "You and your parent or carer need to sign the school's code of conduct for live lessons before you can join. Read it here, then ask the school office for the form.",
    ask: 'office',
    conduct: true,
  },
  domain_not_trusted: {
    title: 'This account cannot join',
    text: "This account's email address is not one your school uses for live lessons. If you have a school account, sign out and sign in with it. If not, ask the school office.",
    ask: 'office',
    signOut: true,
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
  server_stopping: {
    title: 'Livegate is restarting',
    text: 'The lesson stopped because Livegate is restarting. Try again in a minute: your teacher can start the lesson again.',
    retry: true,
  },
  text_invalid: {
    title: 'Check the text',
    text: 'Some text cannot be accepted as written: it is empty or too long, or has invisible or direction-changing characters.',
  },
  rate_limited: {
    title: 'Slow down a little',
    text: 'That was a lot of requests very quickly. Wait a moment, then try again.',
    retry: true,
  },
  too_many_messages: {
    title: 'Taken out for sending too much',
    text: 'Your device sent far too many messages very quickly, so it was taken out of the lesson. Wait a minute, then join again.',
    retry: true,
  },
  server_busy: {
    title: 'Livegate is very busy',
    text: 'Too many connections are open just now. Wait a moment, then try again.',
    retry: true,
  },
  school_disabled: {
    title: "This school's Livegate is switched off",
    text: 'Nobody from this school can sign in or join lessons at the moment. Please contact your school.',
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
  too_many_attempts: {
    title: 'Too many tries',
    text: 'There have been too many wrong passwords. Wait up to 15 minutes, then try again. If you have forgotten your password, ask your school for a new link.',
  },
  token_invalid: {
    title: 'This link does not work',
    text: 'The link has expired or has already been used. Ask your school for a new one.',
  },
  weak_password: {
    title: 'Choose a longer password',
    text: 'Your password needs at least 10 characters (and no more than 256).',
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
  conflict: {
    title: 'Already there',
    text: 'That already exists: an account with this email, a class with this name, this domain, or this person on the class.',
  },
  bad_request: {
    title: 'Please check the form',
    text: 'Something in the form is missing or not in the expected form. Check it and try again.',
  },
  role_mismatch: {
    title: 'Role does not fit',
    text: 'Only pupil accounts can join a class as pupils, and only teacher accounts as its teachers.',
  },
  cannot_change_self: {
    title: 'Not on your own account',
    text: 'You cannot disable your own account or change your own role. Ask another superuser.',
  },
  payload_too_large: {
    title: 'File too large',
    text: 'A roster file can be at most 5 MB. Split it into smaller files, for example one per year group.',
  },
  csv_not_utf8: {
    title: 'File not readable',
    text: 'The file is not UTF-8 text. In your spreadsheet, save it as "CSV UTF-8" and try again.',
  },
  csv_empty: {
    title: 'No pupils in the file',
    text: 'The file is empty or has only a header row.',
  },
  csv_bad_header: {
    title: 'Columns not recognised',
    text: 'The first row must name exactly these columns: pupil email, first name, last name, class.',
  },
  csv_malformed: {
    title: 'Not a valid CSV file',
    text: 'The file could not be read as CSV. Export it from your MIS or spreadsheet as CSV again.',
  },
  csv_too_many_rows: {
    title: 'Too many rows',
    text: 'A roster file can have at most 20,000 pupils. Split it into smaller files.',
  },
  roster_invalid: {
    title: 'Nothing was imported',
    text: 'Some rows have problems, so nothing was imported. Fix them in the file and check it again.',
  },
  recording_unavailable: {
    title: 'This lesson cannot be joined right now',
    text: 'Lessons are only open to pupils while they are being recorded, and the recording is not working at the moment. Your teacher can see this too. Try again in a few minutes.',
    retry: true,
  },
  reason_required: {
    title: 'A reason is needed',
    text: 'Write why you are doing this, in at least 5 letters or digits. It is kept in the audit log.',
  },
  recording_tampered: {
    title: 'This recording failed its check',
    text: 'The recording does not match what was sealed when the lesson ended, so it will not be shown. Report this to your data protection officer.',
  },
  view_expired: {
    title: 'This viewing has ended',
    text: 'Viewings last one hour. Open the recording again, giving your reason.',
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
  csv_unmapped_header: {
    title: 'Choose the columns',
    text: "Livegate could not tell which columns hold the pupil's email, names and class. Choose them below and the file is checked again.",
  },
  roster_mapping_invalid: {
    title: 'Columns do not fit',
    text: 'Each field needs its own column of the file. Choose the columns again.',
  },
  invite_sheet_too_large: {
    title: 'Class too large for one sheet',
    text: 'An invite sheet holds at most 120 pupils. Invite the rest from the Users page, or split the class.',
  },
  mfa_required: {
    title: 'Two-step sign-in needed',
    text: 'This needs two-step sign-in. Set up an authenticator app under Two-step sign-in (at the top of the page), then sign out and sign in again with its code.',
  },
  code_invalid: {
    title: 'That code is not right',
    text: 'That code is not right. Enter the 6-digit code your authenticator app shows now, or one of your unused recovery codes.',
  },
  code_reused: {
    title: 'That code was already used',
    text: 'That code has already been used. Wait for your authenticator app to show the next one.',
  },
  pending_sign_in_invalid: {
    title: 'Please sign in again',
    text: 'This sign-in has expired or was already finished. Please sign in again with your email and password.',
  },
  mfa_already_enrolled: {
    title: 'Already set up',
    text: 'Two-step sign-in is already set up for this account. To replace it, ask a superuser to reset it.',
  },
  mfa_reset_own: {
    title: 'Not allowed',
    text: 'You cannot reset your own two-step sign-in; ask another superuser.',
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

/**
 * Wording for staff where a code means something else to them than to a pupil.
 * @type {Record<string, Record<string, Explanation>>}
 */
const FOR_STAFF = {
  teacher: {
    recording_unavailable: {
      title: 'Recording is not working',
      text: 'This lesson is not being recorded, so pupils cannot join it (anyone already in it has been taken out). End the lesson and start it again. If this keeps happening, tell your IT support.',
    },
    left: {
      title: 'You stepped out of the lesson',
      text: 'The lesson goes on and is still recorded. Your pupils have been told you will be back. Go back in with "Try again" (or "Rejoin lesson" on your classes), and end it from there when you are done. It ends by itself if nobody teaches it for a while.',
      retry: true,
    },
    lesson_ended: {
      title: 'The lesson has ended',
      text: 'Everyone has left the lesson and its recording is being saved. You can start another from your classes.',
    },
  },
  leader: {
    recording_unavailable: {
      title: 'This recording cannot be opened',
      text: 'It is still being recorded, has been destroyed, or its storage cannot be reached right now. Try again later; if it persists, tell your IT support.',
      retry: true,
    },
    not_found: {
      title: 'Recording not found',
      text: 'There is no recording with that link in your school. Go back to the list of recordings.',
    },
    forbidden_role: {
      title: 'Recordings are for safeguarding leaders',
      text: "Only your school's safeguarding leaders can review lesson recordings.",
    },
  },
};

/**
 * Like explain(), with the wording for a teacher or a safeguarding leader where it differs.
 * @param {string} code
 * @param {'teacher' | 'leader'} audience
 * @returns {Explanation}
 */
export function explainFor(code, audience) {
  return FOR_STAFF[audience][code] || explain(code);
}

/**
 * Why a pupil cannot join their class's lessons, in words for their teacher, by gate code.
 * @type {Record<string, string>}
 */
const READINESS = {
  consent_missing: 'No signed code-of-conduct form yet from the pupil and a parent or carer.',
  consent_withdrawn: 'Consent for live lessons was withdrawn.',
  consent_opted_out: 'A parent or carer opted out of live lessons; the school has another plan.',
  domain_not_trusted: "Their email address is not on one of the school's trusted domains.",
  account_disabled: 'Their account is disabled.',
  not_on_roster: 'Not on the class list.',
  in_lobby: 'Not a pupil account: they would wait in the lobby for you.',
};

/**
 * The teacher-facing reason a pupil cannot join, for a gate refusal code.
 * @param {string} code
 * @returns {string}
 */
export function readinessReason(code) {
  return READINESS[code] || `They cannot join yet (${code}).`;
}

/** Who to ask, as the pages name them. */
export const ASK_WORDS = { teacher: 'your teacher', office: 'the school office' };

/**
 * What a pupil's home page says about one class, from the server's JoinCheck
 * (PROTOCOL.md): for a refusal, the same wording as when joining is refused.
 * @param {{state: 'ready' | 'wait' | 'refused', reason: string | null} | null | undefined} check
 * @param {boolean} live whether the class's lesson is live for pupils now
 * @returns {{canJoin: boolean, note: string, words: Explanation | null}}
 */
export function joinAdvice(check, live) {
  if (!check || check.state === 'ready') return { canJoin: live, note: '', words: null };
  if (check.state === 'wait') {
    return { canJoin: live, words: null,
      note: live ? 'Your teacher has stepped out. You can join and wait: you will go in by yourself when they are back.' : '' };
  }
  const words = explain(check.reason || 'internal');
  const note = live ? '' : 'When your teacher starts a lesson, you will not be able to join it yet.';
  return { canJoin: false, note, words };
}
