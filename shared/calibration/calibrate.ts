import { CALIBRATION_RULE } from "#events/calibration";

export interface DecidedBand {
  from: number;
  to: number;
  approved: number;
  rejected: number;
}

export interface Calibration {
  bands: (DecidedBand & { decisions: number; approvalRate: number | null })[];
  recommendedAutoApproveAt: number | null;
  support: { decisions: number; approvalRate: number | null };
  reason: string;
}

type Rule = { minDecisions: number; targetApprovalRate: number };

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Scans the band edges from the lowest up (of bands with decisions) and takes the first one where the decisions at or above it are
 * numerous enough and approved often enough. Lower is better: every result above the threshold goes on
 * without a person. Only reviewed results are counted, so the data says how far the bar can come down,
 * never that it should go up past where people stopped looking.
 */
export function calibrate(bands: readonly DecidedBand[], rule: Rule = CALIBRATION_RULE): Calibration {
  const shown = bands.map((band) => {
    const decisions = band.approved + band.rejected;
    return { ...band, decisions, approvalRate: decisions === 0 ? null : band.approved / decisions };
  });
  for (let i = 0; i < shown.length; i++) {
    // Only edges of bands people decided in: nothing says results below the lowest of them are as good.
    if (shown[i]?.decisions === 0) continue;
    const above = shown.slice(i);
    const decisions = above.reduce((sum, b) => sum + b.decisions, 0);
    const approved = above.reduce((sum, b) => sum + b.approved, 0);
    if (decisions >= rule.minDecisions && approved / decisions >= rule.targetApprovalRate) {
      const at = shown[i]?.from ?? 0;
      return {
        bands: shown,
        recommendedAutoApproveAt: round(at),
        support: { decisions, approvalRate: approved / decisions },
        reason: `${approved} of ${decisions} decisions at confidence ≥ ${round(at)} were approved (rule: ≥ ${rule.targetApprovalRate * 100}% of ≥ ${rule.minDecisions})`,
      };
    }
  }
  const total = shown.reduce((sum, b) => sum + b.decisions, 0);
  return {
    bands: shown,
    recommendedAutoApproveAt: null,
    support: { decisions: 0, approvalRate: null },
    reason:
      total < rule.minDecisions
        ? `only ${total} decisions so far; the rule needs ${rule.minDecisions} at or above a threshold`
        : `no threshold has ≥ ${rule.targetApprovalRate * 100}% approvals over ≥ ${rule.minDecisions} decisions`,
  };
}

export interface ReviewSpec {
  autoApproveAt: number;
  notifyAt?: number | undefined;
  adaptive?: boolean | undefined;
  minAutoApproveAt?: number | undefined;
}

/** What the agent runner attaches to a reviewed result when the node's review is adaptive. */
export interface Routing {
  autoApproveAt: number;
  notifyAt?: number;
  reason: string;
}

/**
 * The thresholds an adaptive review applies: the recommendation, kept within the node's bounds. The node's
 * `autoApproveAt` is the ceiling (adaptivity only ever lets more results go on by themselves, as far as
 * people's past decisions support), and `minAutoApproveAt` the floor (default: `notifyAt`, else 0.5).
 * `notifyAt` stays as written unless the threshold falls below it.
 */
export function adaptiveRouting(review: ReviewSpec, recommended: number | null, why: string): Routing {
  const ceiling = review.autoApproveAt;
  const floor = Math.min(ceiling, review.minAutoApproveAt ?? review.notifyAt ?? 0.5);
  if (recommended === null) {
    return {
      autoApproveAt: ceiling,
      ...(review.notifyAt === undefined ? {} : { notifyAt: review.notifyAt }),
      reason: `adaptive: no recommendation (${why}); the node's autoApproveAt ${ceiling} applies`,
    };
  }
  const applied = Math.max(floor, Math.min(ceiling, recommended));
  const bound =
    applied === recommended
      ? ""
      : applied === ceiling
        ? " (held at the node's ceiling)"
        : " (held at the node's floor)";
  return {
    autoApproveAt: applied,
    ...(review.notifyAt === undefined ? {} : { notifyAt: Math.min(review.notifyAt, applied) }),
    reason: `adaptive: autoApproveAt ${applied} from calibration ${recommended}${bound}: ${why}`,
  };
}

/**
 * The thresholds the engine routes a reviewed result with: the node's own, or, for an adaptive review,
 * those the agent runner worked out and attached to the output (`routing`). Pure, for the engine.
 */
export function reviewThresholds(
  review: ReviewSpec,
  output: unknown,
): { autoApproveAt: number; notifyAt: number | undefined; reason: string | undefined } {
  const routing = (output as { routing?: Partial<Routing> } | null | undefined)?.routing;
  if (review.adaptive === true && typeof routing?.autoApproveAt === "number") {
    return {
      autoApproveAt: routing.autoApproveAt,
      notifyAt: typeof routing.notifyAt === "number" ? routing.notifyAt : undefined,
      reason: typeof routing.reason === "string" ? routing.reason : undefined,
    };
  }
  return { autoApproveAt: review.autoApproveAt, notifyAt: review.notifyAt, reason: undefined };
}
