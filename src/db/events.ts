/** What `db.events$` emits. */
import type { KindName } from './kinds/kind.js';
import type { StoreRecord } from './records.js';

export interface StoreEvent {
  /**
   * The kind of object, 'netns' for a followed namespace itself, 'journal'
   * for a commit the journal undid, 'switch' for a BMv2 switch's record.
   */
  kind: KindName | 'netns' | 'journal' | 'switch';
  /**
   * add / change / remove of an object; for 'netns': 'resync' after lost
   * events were recovered, 'remove' when the namespace disappeared; for
   * 'journal': 'recovered' (a dead process's commit undone), 'void' (from
   * another boot), 'failed' (not all of it came back).
   */
  action: 'add' | 'change' | 'remove' | 'resync' | 'recovered' | 'void' | 'failed';
  /** A journal event: the commit's id and how many steps were undone. */
  id?: string;
  steps?: number;
  /** The namespace's name ('localhost' for the root namespace). */
  netns: string;
  before?: StoreRecord;
  after?: StoreRecord;
  /** The kernel made this change without an event (emulated), or a resync found it. */
  silent?: boolean;
}
