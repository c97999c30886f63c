/** pyroute2 IPDB's transaction, freeze and snapshot scenarios against the real kernel (see harness.ts). */
import { portScenarios } from './harness.js';
import { scenarios } from './ipdb-transactions.scenarios.js';

portScenarios('pyroute2 IPDB: transactions, freeze, snapshots', scenarios);
