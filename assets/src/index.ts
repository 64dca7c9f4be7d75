/**
 * @materia/assets: the user-facing DSL. Define typed assets, gather them in a project, and make
 * them fresh with `materialize`.
 */
export {
  NonRetryableError,
  OutputValidationError,
  type RunEvent,
  type StepOutcome,
  StepTimeout,
  UserCodeError
} from "@materia/core"
export * from "./Asset.ts"
export type { Alert, AlertOutcome } from "./alerts/Alert.ts"
export { AlertSummary } from "./alerts/AlertSummary.ts"
export { redactUrl, type WebhookOptions, webhookAlert } from "./alerts/Webhook.ts"
export * from "./Backfill.ts"
export * from "./BackfillReport.ts"
export * from "./Check.ts"
export * from "./CheckCurrent.ts"
export {
  type BuiltinCheck,
  noNulls,
  notEmpty,
  rowCount,
  rowCountChange,
  unique,
  valuesIn,
  valuesInRange
} from "./checks/Builtins.ts"
export {
  InvalidRowSchema,
  rowSchemaToArrowDescription,
  TableSchemaMismatch,
  validateStream,
  validateTable
} from "./checks/TableSchema.ts"
export * from "./DynamicPartitions.ts"
export { type ExploreProjectOptions, explore } from "./Explore.ts"
export * from "./GitChanges.ts"
export {
  ConfigError,
  ioManagersOf,
  ObserveError,
  type PreparedRun,
  prepareRun,
  ResourcesError,
  resolveStore,
  type StorageChoice
} from "./Launch.ts"
export * from "./Materialize.ts"
export { PartitionRequestError, type PreparedPartitions, preparePartitions } from "./PartitionRequest.ts"
export * from "./PartitionStatus.ts"
export * from "./Partitions.ts"
export * from "./Project.ts"
export * from "./ResolveSelection.ts"
export * from "./Retention.ts"
export * from "./RunResult.ts"
export * from "./Status.ts"
export * from "./Store.ts"
export * from "./schedule/AssetSensor.ts"
export * from "./schedule/Automation.ts"
export * from "./schedule/Cron.ts"
export * from "./schedule/FileSensor.ts"
export * from "./schedule/RunRequest.ts"
export * from "./schedule/RunStatusSensor.ts"
export * from "./schedule/S3Sensor.ts"
export * from "./schedule/Schedule.ts"
export * from "./schedule/Sensor.ts"
