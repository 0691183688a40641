/**
 * Colour settling: this page's user as published in presence (names, initials, the
 * identity's colour or one picked by name), and that colour moved when someone who was
 * there first shows it too. The choice is logic/colors.ts; this keeps and publishes it.
 */
import { initialsOf, isHexColor, lightColor, myColorIn, userColor } from '../../logic/colors';
import type { Identity } from '../../protocol/kernels';
import type { Collaborator } from '../../protocol/presence';
import type { LocalUser, NotebookRoom } from '../../protocol/room';

/** This page's user as it opens (`now`: when it joined, ms). */
export function localUser(me: Identity, now: number): LocalUser {
  const color = userColor(me.username, me.color);
  return {
    username: me.username,
    name: me.display_name || me.name || me.username,
    display_name: me.display_name || me.name || me.username,
    initials: me.initials || initialsOf(me.display_name || me.username),
    color,
    colorLight: lightColor(color),
    colorSource: isHexColor(me.color) ? 'identity' : 'auto',
    joined: now,
  };
}

export class OwnColor {
  private user: LocalUser;

  /** Publishes this page's user in the room's presence. */
  constructor(private readonly room: NotebookRoom, me: Identity) {
    this.user = localUser(me, Date.now());
    room.setUser(this.user);
  }

  /** Two people must not show in one colour: move mine if someone there first has it. */
  settle(people: readonly Collaborator[]): void {
    const color = myColorIn(people);
    if (color === null || color === this.user.color) return;
    this.user = { ...this.user, color, colorLight: lightColor(color) };
    this.room.setUser(this.user);
  }
}
