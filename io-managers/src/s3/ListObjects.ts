/**
 * Listing the objects under an S3 prefix modified since a time (for the new-objects sensor): every
 * page of ListObjectsV2, keys and modification times only.
 */
import { ListObjectsV2Command, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3"

export interface ListedObject {
  readonly key: string
  readonly modifiedAt: number
  readonly size: number
}

/** Objects under `prefix` modified at or after `since` (epoch ms), oldest first. */
export const listObjectsSince = async (
  client: S3ClientConfig,
  bucket: string,
  prefix: string,
  since: number,
  signal?: AbortSignal
): Promise<ReadonlyArray<ListedObject>> => {
  const s3 = new S3Client(client)
  try {
    const out: Array<ListedObject> = []
    let token: string | undefined
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        signal === undefined ? {} : { abortSignal: signal }
      )
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || object.LastModified === undefined) continue
        const modifiedAt = object.LastModified.getTime()
        if (modifiedAt >= since) out.push({ key: object.Key, modifiedAt, size: object.Size ?? 0 })
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
    return out.sort((a, b) => a.modifiedAt - b.modifiedAt || (a.key < b.key ? -1 : 1))
  } finally {
    s3.destroy()
  }
}
