/** pyroute2 NDB's transactions scenarios against the real kernel (see harness.ts). */
import { portScenarios } from './harness.js';
import { scenarios } from './ndb-transactions.scenarios.js';

portScenarios('pyroute2 NDB: transactions', scenarios);
