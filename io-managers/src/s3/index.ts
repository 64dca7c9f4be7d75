/**
 * `@materia/io-managers/s3`: the S3 IO manager (the local-disk layout and formats on an S3 or
 * S3-compatible bucket, uploaded through multipart uploads and verified by sha256 on load).
 */

export type { S3ClientConfig } from "@aws-sdk/client-s3"
export { type ListedObject, listObjectsSince } from "./ListObjects.ts"
export { InvalidS3Options, makeS3IOManager, type S3IOManagerOptions } from "./S3IOManager.ts"
