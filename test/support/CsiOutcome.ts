// A CSI call's outcome as data: OK, or the gRPC status kubelet would see. Stress tests fire many calls and
// judge each afterwards, so nothing is thrown.
import { ClientError, Status } from "nice-grpc"

export type CsiOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: Status; readonly codeName: string; readonly details: string }

export const outcomeOf = async (call: Promise<unknown>): Promise<CsiOutcome> => {
  try {
    await call
    return { ok: true }
  } catch (error) {
    if (error instanceof ClientError) {
      return { ok: false, code: error.code, codeName: Status[error.code] ?? String(error.code), details: error.details }
    }
    throw error
  }
}

/** A status the driver chose on purpose: the reason from the closed set leads the message (csi/toStatus.ts). */
export const typedReasonOf = (outcome: CsiOutcome): string | undefined =>
  outcome.ok ? undefined : /^([A-Za-z]+): /.exec(outcome.details)?.[1]

/** The status of an unexpected defect inside the driver (toStatus.defectToServerError). */
export const isDefect = (outcome: CsiOutcome): boolean =>
  !outcome.ok && outcome.code === Status.INTERNAL && /^internal error in /.test(outcome.details)
