/** pyroute2 IPDB's interface scenarios against the real kernel (see harness.ts). */
import { portScenarios } from './harness.js';
import { scenarios } from './ipdb-links.scenarios.js';

portScenarios('pyroute2 IPDB: interfaces', scenarios);
