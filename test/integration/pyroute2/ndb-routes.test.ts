/** pyroute2 NDB's routes scenarios against the real kernel (see harness.ts). */
import { portScenarios } from './harness.js';
import { scenarios } from './ndb-routes.scenarios.js';

portScenarios('pyroute2 NDB: routes', scenarios);
