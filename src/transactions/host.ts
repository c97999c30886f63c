/**
 * What transactions need of the store they run on: the store itself (src/db),
 * and the two things only the facade above both layers has: opening another
 * transaction (a freeze's reverts) and the commit journal.
 */
import type { Database } from '../db/database.js';
import type { Journaling } from './commit.js';
import type { Transaction } from './transaction.js';

export interface Host extends Database {
  begin(): Transaction;
  /** What a commit writes its journal entry with (none without a journal). */
  readonly journaling: Journaling | undefined;
}
