/** Lab files: the format, its validation, names, the model, its diff and its picture. */

export type { AddressChange, ImpairmentChange, LinkChange, NodeChange, RouteChange } from './diff.js';
export { diffLabs, isEmptyDiff, type LabDiff } from './diff.js';
export { type GraphOptions, labToDot, labToMermaid, renderSvg } from './graph.js';
export { isGone, type Leftovers, leftoversOf } from './leftovers.js';
export { checkLabFile, loadLabFile } from './load.js';
export * from './model.js';
export { labNameProblem, labNamespace, labTag, namespacesOfLab, nodeNameProblem, parseLabNamespace } from './names.js';
export { checkLab, type LabCheck, type ParseOptions, parseLab } from './parse.js';
export type { LabProblem } from './problems.js';
export { labToYaml } from './serialize.js';
