/**
 * Statement node type -> `sql.verb` (POLICY.md). Verbs name what the statement does to the
 * server, so a rule like `sql.verb in ['drop', 'alter']` catches every spelling of it:
 * ALTER ... RENAME is 'alter' (the reference's separate 'rename' verb escaped such rules),
 * REVOKE is 'revoke' (the reference reported 'grant'), SELECT ... INTO is 'create'.
 * Unknown node types give '' so that a rule testing the verb fails closed.
 */
import type { PgNode } from './sql-parser.js';

const CREATE = [
  'CreateStmt', 'CreateTableAsStmt', 'ViewStmt', 'IndexStmt', 'CreateSeqStmt', 'CreateSchemaStmt',
  'CreateFunctionStmt', 'CreateTrigStmt', 'CreateEventTrigStmt', 'CreateRoleStmt', 'CreatedbStmt',
  'CreateExtensionStmt', 'CreateDomainStmt', 'CompositeTypeStmt', 'CreateEnumStmt', 'CreateRangeStmt',
  'DefineStmt', 'CreatePolicyStmt', 'CreateTableSpaceStmt', 'CreateFdwStmt', 'CreateForeignServerStmt',
  'CreateForeignTableStmt', 'CreateUserMappingStmt', 'CreatePLangStmt', 'CreateAmStmt', 'CreateOpClassStmt',
  'CreateOpFamilyStmt', 'CreateStatsStmt', 'CreateConversionStmt', 'CreateCastStmt', 'CreateTransformStmt',
  'CreatePublicationStmt', 'CreateSubscriptionStmt', 'RuleStmt', 'ImportForeignSchemaStmt',
];
const DROP = [
  'DropStmt', 'DropTableSpaceStmt', 'DropUserMappingStmt', 'DropRoleStmt', 'DropdbStmt',
  'DropSubscriptionStmt', 'DropOwnedStmt',
];
const ALTER = [
  'AlterTableStmt', 'AlterDomainStmt', 'AlterCollationStmt', 'AlterDefaultPrivilegesStmt', 'AlterExtensionStmt',
  'AlterExtensionContentsStmt', 'AlterFdwStmt', 'AlterForeignServerStmt', 'AlterUserMappingStmt', 'AlterPolicyStmt',
  'AlterEventTrigStmt', 'AlterRoleStmt', 'AlterRoleSetStmt', 'AlterSeqStmt', 'AlterOpFamilyStmt', 'AlterStatsStmt',
  'AlterFunctionStmt', 'AlterObjectDependsStmt', 'AlterObjectSchemaStmt', 'AlterOwnerStmt', 'AlterOperatorStmt',
  'AlterTypeStmt', 'AlterEnumStmt', 'AlterDatabaseStmt', 'AlterDatabaseRefreshCollStmt', 'AlterDatabaseSetStmt',
  'AlterSystemStmt', 'AlterTSDictionaryStmt', 'AlterTSConfigurationStmt', 'AlterPublicationStmt',
  'AlterSubscriptionStmt', 'AlterTableSpaceOptionsStmt', 'AlterTableMoveAllStmt', 'ReplicaIdentityStmt', 'RenameStmt',
];

const FIXED: Record<string, string> = {
  SelectStmt: 'select', InsertStmt: 'insert', UpdateStmt: 'update', DeleteStmt: 'delete', MergeStmt: 'merge',
  CopyStmt: 'copy', TruncateStmt: 'truncate', DoStmt: 'do', CallStmt: 'call', VariableShowStmt: 'show',
  ExplainStmt: 'explain', PrepareStmt: 'prepare', ExecuteStmt: 'execute', DeallocateStmt: 'deallocate',
  DeclareCursorStmt: 'declare', ClosePortalStmt: 'close', ListenStmt: 'listen', UnlistenStmt: 'unlisten',
  NotifyStmt: 'notify', LockStmt: 'lock', ReindexStmt: 'reindex', ClusterStmt: 'cluster',
  RefreshMatViewStmt: 'refresh', CommentStmt: 'comment', DiscardStmt: 'discard', CheckPointStmt: 'checkpoint',
  LoadStmt: 'load', ConstraintsSetStmt: 'set', SecLabelStmt: 'security label', ReassignOwnedStmt: 'reassign',
  // Only reachable as a SQL-function body (`RETURN expr`): it evaluates an expression.
  ReturnStmt: 'select',
};
for (const t of CREATE) FIXED[t] = 'create';
for (const t of DROP) FIXED[t] = 'drop';
for (const t of ALTER) FIXED[t] = 'alter';

const TRANSACTION: Record<string, string> = {
  TRANS_STMT_BEGIN: 'begin', TRANS_STMT_START: 'begin', TRANS_STMT_COMMIT: 'commit',
  TRANS_STMT_ROLLBACK: 'rollback', TRANS_STMT_SAVEPOINT: 'savepoint', TRANS_STMT_RELEASE: 'release',
  TRANS_STMT_ROLLBACK_TO: 'rollback', TRANS_STMT_PREPARE: 'prepare', TRANS_STMT_COMMIT_PREPARED: 'commit',
  TRANS_STMT_ROLLBACK_PREPARED: 'rollback',
};

/** The verb of a statement node given its type name and body. */
export function verbOf(type: string, body: PgNode): string {
  switch (type) {
    case 'SelectStmt':
      // SELECT ... INTO t creates t (the server turns it into CREATE TABLE AS).
      return body['intoClause'] !== undefined ? 'create' : 'select';
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return body['is_grant'] === true ? 'grant' : 'revoke';
    case 'VariableSetStmt': {
      const kind = body['kind'];
      return kind === 'VAR_RESET' || kind === 'VAR_RESET_ALL' ? 'reset' : 'set';
    }
    case 'TransactionStmt':
      return TRANSACTION[String(body['kind'])] ?? '';
    case 'VacuumStmt':
      return body['is_vacuumcmd'] === true ? 'vacuum' : 'analyze';
    case 'FetchStmt':
      return body['ismove'] === true ? 'move' : 'fetch';
    default:
      return FIXED[type] ?? '';
  }
}
