/**
 * Child process of the bench: loads one namespace into a fresh store and
 * prints `{ ms, rss, routes }` as JSON. Its own process, so that the peak
 * RSS is the store's and nothing else's.
 *
 *   node dist/bench/store-load.js NAMESPACE TABLE
 */
import { NetState } from '../src/index.js';

const [netns, table] = process.argv.slice(2) as [string, string];
const t = process.hrtime.bigint();
const db = await NetState.open({ netns });
const ms = Number(process.hrtime.bigint() - t) / 1e6;
const routes = db.routes.count({ table: Number(table) });
await db.close();
console.log(JSON.stringify({ ms, rss: process.resourceUsage().maxRSS / 1024, routes }));
