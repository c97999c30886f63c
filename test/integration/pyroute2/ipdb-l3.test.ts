/** pyroute2 IPDB's address, route, rule and wait scenarios against the real kernel (see harness.ts). */
import { portScenarios } from './harness.js';
import { scenarios } from './ipdb-l3.scenarios.js';

portScenarios('pyroute2 IPDB: addresses, routes, rules', scenarios);
