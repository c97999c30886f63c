/** pyroute2 NDB's links scenarios against the real kernel (see harness.ts). */
import { portScenarios } from './harness.js';
import { scenarios } from './ndb-links.scenarios.js';

portScenarios('pyroute2 NDB: links', scenarios);
