/** netstate: everything public is exported from here. */

export {
  Bmv2Options,
  type Bmv2OptionsInput,
  DEFAULT_GRPC_ADDRESS,
  DEFAULT_THRIFT_PORT,
} from './backends/bmv2/options.js';
export {
  type BackoffOptions,
  DEFAULT_BACKOFF,
  type SupervisionEvent,
  Supervisor,
} from './backends/bmv2/supervisor.js';
export { type Bmv2State, type Bmv2Status, Bmv2Switch, findBmv2Binary } from './backends/bmv2/switch.js';
export {
  addToCgroup,
  type Cgroup,
  type CgroupDir,
  type CgroupEntry,
  type CgroupLayout,
  CgroupLimits,
  type CgroupLimitsInput,
  type CgroupRoots,
  cgroupLayout,
  cgroupList,
  cgroupPids,
  createCgroup,
  parseLimits,
  type RemoveCgroupOptions,
  removeCgroup,
} from './backends/cgroup.js';
export { getTxChecksum, setTxChecksum } from './backends/ethtool.js';
export {
  decodeAll,
  decodeMessage,
  encodeMessage,
  encodeToBuffer,
  FAMILIES,
  type Message,
} from './backends/netlink/codec/message.js';
export { AddressFilter, type AddressRecord, AddressSpec } from './backends/netlink/families/address.js';
export type { Command } from './backends/netlink/families/family.js';
export { LinkFilter, LinkKey, type LinkRecord, LinkSpec, PeerSpec } from './backends/netlink/families/link.js';
export {
  BondData,
  BondPortData,
  BridgeData,
  BridgePortData,
  GreData,
  type KindData,
  MacvlanData,
  type PortData,
  TunData,
  VlanData,
  VrfData,
  VxlanData,
} from './backends/netlink/families/link-options.js';
export { NeighbourFilter, type NeighbourRecord, NeighbourSpec } from './backends/netlink/families/neighbour.js';
export {
  BareQdiscSpec,
  BfifoSpec,
  HtbSpec,
  NetemSpec,
  PfifoSpec,
  QdiscFilter,
  QdiscKey,
  type QdiscRecord,
  type QdiscSpec,
  TbfSpec,
} from './backends/netlink/families/qdisc.js';
export {
  type NexthopRecord,
  NexthopSpec,
  RouteFilter,
  RouteMetrics,
  RouteQuery,
  type RouteRecord,
  RouteSpec,
} from './backends/netlink/families/route.js';
export { RuleFilter, type RuleRecord, RuleSpec } from './backends/netlink/families/rule.js';
export {
  type BatchCommand,
  type BatchRequest,
  type BatchResult,
  Rtnl,
  type RtnlEvent,
  type RtnlOptions,
  type Spec,
  type UncheckedBatchRequest,
} from './backends/netlink/rtnl.js';
export { DumpInterruptedError, NetlinkSocket } from './backends/netlink/socket.js';
export { createNetns, inNetns, listNetns, netnsExists, removeNetns, validateNetnsName } from './backends/netns.js';
export type { ExecOptionsInput as ExecOptions, SpawnOptionsInput as SpawnOptions } from './backends/process/command.js';
export {
  type KillAllOptions,
  type KilledProcess,
  killAll,
  killProcess,
  type ProcessInfo,
  processes,
} from './backends/process/members.js';
export { type ExecResult, type ExitStatus, exec, NsProcess, spawn } from './backends/process/spawn.js';
export {
  readSysctl,
  revertSysctls,
  type SysctlChange,
  type SysctlOptions,
  type SysctlValue,
  sysctlKey,
  sysctlPath,
  writeSysctl,
  writeSysctls,
} from './backends/sysctl.js';
export {
  createTuntap,
  type TuntapLinkSpec,
  type TuntapResult,
  TuntapSpec,
  tuntapSpecOf,
} from './backends/tuntap.js';
export { Collection, type Filter } from './db/collection.js';
export { Database, type DatabaseOptions, type NamespaceRecord, Namespaces } from './db/database.js';
export type { StoreEvent } from './db/events.js';
export type { KindName } from './db/kinds/kind.js';
export type {
  InterfaceRecord,
  Stored,
  StoredAddress,
  StoredFilter,
  StoredNeighbour,
  StoredQdisc,
  StoredRoute,
  StoredRule,
  StoreRecord,
} from './db/records.js';
export type { LoadProgress } from './db/source.js';
export { ROOT } from './db/source.js';
export { SwitchCollection, type SwitchFilter, type SwitchRecord, type SwitchState } from './db/switches.js';
export * from './errors.js';
export { DEFAULT_JOURNAL, NetState, type NetStateOptions, type WaitOptions } from './netstate/netstate.js';
export { ReadOnlyNetState } from './netstate/readonly.js';
export { type FrozenSwitch, Switches } from './netstate/switches.js';
export { type CleanupReport, cleanupLab } from './runtime/cleanup.js';
export { disableIpv6, type EnableIpv6Options, enableIpv6 } from './runtime/ipv6.js';
export * from './runtime/lab/index.js';
export { type LabUpOptions, type LabUpResult, labDown, labList, labUp, runningModel } from './runtime/lab/up.js';
export { Lab, type LabOptions, type ShapeOptions, sweep } from './runtime/lab.js';
export { Namespace } from './runtime/namespace.js';
export { type LabRecord, LabRegistry, type MadeRecord } from './runtime/registry.js';
export { applyNetem, clearQdisc, type NetemOptions } from './runtime/shaping.js';
export type { FacadeOptions } from './runtime/transact.js';
export { type Side, VethPair, type VethPairOptions } from './runtime/veth-pair.js';
export type { CommitOptions, CommitReport } from './transactions/commit.js';
export { diffObject, type ObjectDiff } from './transactions/diff.js';
export { Frozen, type Revert } from './transactions/freeze.js';
export type { CommitState, JournalEntry } from './transactions/journal.js';
export { PendingCommit } from './transactions/provisional.js';
export type { Recovered } from './transactions/recovery.js';
export type { RollbackReport } from './transactions/rollback.js';
export type { InterfaceTarget, NexthopTarget, RouteTarget } from './transactions/staged.js';
export { SwitchHandle } from './transactions/switch-handle.js';
export { SwitchSpec, type SwitchTarget } from './transactions/switch-staging.js';
export { InterfaceHandle, type Review, RouteHandle, Transaction } from './transactions/transaction.js';
