/** What `db.events$` emits. */
import type { KindName } from './kinds/kind.js';
import type { StoreRecord } from './records.js';

export interface StoreEvent {
  /** The kind of object, or 'netns' for a followed namespace itself. */
  kind: KindName | 'netns';
  /**
   * add / change / remove of an object; for 'netns': 'resync' after lost
   * events were recovered, 'remove' when the namespace disappeared.
   */
  action: 'add' | 'change' | 'remove' | 'resync';
  /** The namespace's name ('localhost' for the root namespace). */
  netns: string;
  before?: StoreRecord;
  after?: StoreRecord;
  /** The kernel made this change without an event (emulated), or a resync found it. */
  silent?: boolean;
}
