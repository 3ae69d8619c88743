// Admin section "Classes and rosters": the roster import, the list of classes (with their
// CSV export), adding a class, and one class's page (`#/admin/classes/<id>`) with its
// teachers and pupils, where people are added and removed.
// @ts-check

import { announce, h, visuallyHidden } from '../lib/dom.js';
import { confirmButton, errorLine, errorText, field, statusLine } from '../lib/widgets.js';
import { checkInputs } from '../lib/text.js';
import {
  addMember, classDetail, createClass, listClasses, removeMember, rosterCsvUrl,
} from './api.js';
import { importBox } from './import.js';
import { inviteBox } from './invites.js';
import { changed, onChange } from './changes.js';
import { picker } from './people.js';

/** @typedef {import('./index.js').AdminContext} AdminContext */
/** @typedef {import('./api.js').Member} Member */

/** @param {AdminContext} ctx */
export async function renderClasses(ctx) {
  if (ctx.param) {
    await renderClass(ctx, ctx.param);
    return;
  }
  const { classes } = await listClasses();
  if (!ctx.isCurrent()) return;
  const list = h('ul', { class: 'admin-list', id: 'admin-classes' });
  drawClasses(list, classes);
  // An import (or any change of classes or places) redraws the list with fresh counts.
  onChange(['classes', 'members'], async () => {
    const fresh = await listClasses().catch(() => null);
    if (fresh && ctx.isCurrent()) drawClasses(list, fresh.classes);
  }, ctx.isCurrent);
  ctx.panel.replaceChildren(
    h('h2', { tabindex: '-1' }, ['Classes and rosters']),
    h('p', { class: 'muted' }, ["A class's roster decides which pupils may join its lessons."]),
    importBox(),
    addClassForm(ctx),
    list,
  );
}

/**
 * @param {HTMLElement} list
 * @param {import('./api.js').ClassRow[]} classes
 */
function drawClasses(list, classes) {
  list.replaceChildren(...classes.map((c) => h('li', { class: 'admin-item', 'data-class-id': c.id }, [
    h('div', { class: 'item-head' }, [h('a', { class: 'item-name', href: `#/admin/classes/${c.id}` }, [c.name])]),
    h('p', { class: 'item-sub' }, [`${c.pupils} ${c.pupils === 1 ? 'pupil' : 'pupils'}, ${c.teachers} ${c.teachers === 1 ? 'teacher' : 'teachers'}`]),
    h('div', { class: 'item-actions' }, [
      h('a', { class: 'btn btn-secondary btn-small', href: rosterCsvUrl(c.id), download: `roster-${c.id}.csv` }, ['Download CSV', visuallyHidden(` of ${c.name}`)]),
      h('a', { class: 'btn btn-secondary btn-small', href: `#/admin/consent/${c.id}` }, ['Consent', visuallyHidden(` in ${c.name}`)]),
    ]),
  ])));
  if (classes.length === 0) list.append(h('li', { class: 'empty' }, ['No classes yet. Import a roster or add a class.']));
}

/** @param {AdminContext} ctx */
function addClassForm(ctx) {
  const name = field('Class name', { required: true, autocomplete: 'off' });
  const error = errorLine();
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, ['Add class']);
  const form = h('form', { class: 'form admin-form', novalidate: true }, [name.row, error, submit]);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!name.input.value.trim()) {
      error.textContent = 'Enter a name for the class.';
      return;
    }
    const [className] = checkInputs(error, [['class_name', name.input]]) || [];
    if (!className) return;
    try {
      const created = await createClass(className);
      changed('classes');
      ctx.go(`#/admin/classes/${created.class.id}`);
    } catch (err) {
      error.textContent = errorText(err);
    }
  });
  return h('details', { class: 'admin-box' }, [h('summary', {}, ['Add a class']), form]);
}

/**
 * One class: its teachers and pupils, removal, and adding people.
 * @param {AdminContext} ctx
 * @param {string} classId
 */
async function renderClass(ctx, classId) {
  const [{ class: c, members }, users] = await Promise.all([classDetail(classId), ctx.users()]);
  if (!ctx.isCurrent()) return;
  const error = errorLine();
  const done = statusLine();
  /** Draws the class again after a change, says what changed, and keeps focus in the page. @param {string} said */
  const reload = (said) => void renderClass(ctx, classId).then(() => {
    const heading = ctx.panel.querySelector('h2');
    if (heading instanceof HTMLElement) heading.focus();
    const line = ctx.panel.querySelector('.admin-ok');
    if (line) line.textContent = said;
    announce(said);
  }).catch((err) => { error.textContent = errorText(err); });
  /** @param {Member} m */
  const item = (m) => h('li', { class: 'admin-item admin-item-row', 'data-user-id': m.user.id }, [
    h('div', {}, [h('span', { class: 'item-name' }, [m.user.display_name]), h('p', { class: 'item-sub' }, [m.user.email])]),
    confirmButton('Remove', 'Confirm remove', m.user.display_name, async (b) => {
      b.disabled = true;
      try {
        await removeMember(c.id, m.user.id);
        changed('members');
        reload(`Removed ${m.user.display_name} from ${c.name}.`);
      } catch (err) {
        b.disabled = false;
        error.textContent = errorText(err);
      }
    }),
  ]);
  const teachers = members.filter((m) => m.as === 'teacher');
  const pupils = members.filter((m) => m.as === 'pupil');
  const onClass = new Set(members.map((m) => m.user.id));
  const candidates = users.filter((u) => !onClass.has(u.id) && (u.role === 'pupil' || u.role === 'teacher'));
  const add = picker(candidates, 'Add someone to this class', async (u) => {
    error.textContent = '';
    try {
      await addMember(c.id, u.id, u.role === 'teacher' ? 'teacher' : 'pupil');
      changed('members');
      reload(`Added ${u.display_name} to ${c.name}.`);
    } catch (err) {
      error.textContent = errorText(err);
    }
  }, (u) => `Add ${u.display_name} (${u.role})`);
  ctx.panel.replaceChildren(
    h('p', {}, [h('a', { href: '#/admin/classes' }, ['← All classes'])]),
    h('h2', { tabindex: '-1' }, [c.name]),
    h('div', { class: 'item-actions' }, [
      h('a', { class: 'btn btn-secondary btn-small', href: rosterCsvUrl(c.id), download: `roster-${c.id}.csv` }, ['Download roster CSV']),
      h('a', { class: 'btn btn-secondary btn-small', href: `#/admin/consent/${c.id}` }, ['Pupils without consent']),
    ]),
    error,
    done,
    h('h3', {}, [`Teachers (${teachers.length})`]),
    h('ul', { class: 'admin-list', id: 'class-teachers' }, teachers.length ? teachers.map(item) : [h('li', { class: 'hint' }, ['No teacher yet.'])]),
    h('h3', {}, [`Pupils (${pupils.length})`]),
    h('ul', { class: 'admin-list', id: 'class-pupils' }, pupils.length ? pupils.map(item) : [h('li', { class: 'hint' }, ['No pupils yet.'])]),
    h('section', { class: 'admin-box', 'aria-label': 'Add to this class' }, [add]),
    inviteBox(c),
  );
}
