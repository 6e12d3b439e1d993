import { describe, expect, it } from "vitest";
import { adaptiveRouting, calibrate, reviewThresholds } from "#shared/calibration/calibrate";

const bands = (decided: Record<number, [number, number]>) =>
  Array.from({ length: 10 }, (_, i) => ({
    from: i / 10,
    to: (i + 1) / 10,
    approved: decided[i]?.[0] ?? 0,
    rejected: decided[i]?.[1] ?? 0,
  }));

describe("calibrate", () => {
  it("gives each band its approval rate and count", () => {
    const result = calibrate(bands({ 3: [1, 3], 7: [4, 0] }));
    expect(result.bands[3]).toMatchObject({ decisions: 4, approved: 1, rejected: 3, approvalRate: 0.25 });
    expect(result.bands[7]).toMatchObject({ decisions: 4, approvalRate: 1 });
    expect(result.bands[0]).toMatchObject({ decisions: 0, approvalRate: null });
  });

  it("recommends nothing before there are 20 decisions", () => {
    const result = calibrate(bands({ 8: [19, 0] }));
    expect(result.recommendedAutoApproveAt).toBeNull();
    expect(result.reason).toContain("only 19 decisions");
  });

  it("takes the lowest edge whose decisions at or above it are at least 95% approved", () => {
    // 0.5: 30 decisions, 25 approved (83%); 0.6 and up: 21 of 22 (95.5%).
    const result = calibrate(bands({ 5: [4, 4], 6: [10, 1], 8: [11, 0] }));
    expect(result.recommendedAutoApproveAt).toBe(0.6);
    expect(result.support).toEqual({ decisions: 22, approvalRate: 21 / 22 });
  });

  it("needs the share and the count at once: a perfect band too small to stand alone is not enough", () => {
    const result = calibrate(bands({ 4: [10, 10], 9: [15, 0] }));
    expect(result.recommendedAutoApproveAt).toBeNull();
    expect(result.reason).toContain("no threshold");
  });

  it("does not reach below the lowest band anyone decided in", () => {
    expect(calibrate(bands({ 7: [20, 0] })).recommendedAutoApproveAt).toBe(0.7);
  });

  it("takes exactly 95% as enough", () => {
    expect(calibrate(bands({ 8: [19, 1] })).recommendedAutoApproveAt).toBe(0.8);
  });
});

describe("adaptiveRouting", () => {
  it("applies the recommendation between the node's floor and ceiling, and says why", () => {
    const routing = adaptiveRouting({ autoApproveAt: 0.9, notifyAt: 0.6, adaptive: true }, 0.7, "20 of 20");
    expect(routing).toMatchObject({ autoApproveAt: 0.7, notifyAt: 0.6 });
    expect(routing.reason).toContain("from calibration 0.7");
  });

  it("holds at the ceiling (the node's autoApproveAt) and at the floor", () => {
    expect(adaptiveRouting({ autoApproveAt: 0.8, adaptive: true }, 0.95, "x")).toMatchObject({
      autoApproveAt: 0.8,
      reason: expect.stringContaining("ceiling"),
    });
    expect(
      adaptiveRouting({ autoApproveAt: 0.9, minAutoApproveAt: 0.75, adaptive: true }, 0.3, "x"),
    ).toMatchObject({ autoApproveAt: 0.75, reason: expect.stringContaining("floor") });
    // Without minAutoApproveAt or notifyAt, the floor is 0.5.
    expect(adaptiveRouting({ autoApproveAt: 0.9, adaptive: true }, 0.2, "x").autoApproveAt).toBe(0.5);
  });

  it("keeps notifyAt at or below the threshold applied", () => {
    expect(
      adaptiveRouting({ autoApproveAt: 0.9, notifyAt: 0.8, minAutoApproveAt: 0.6 }, 0.6, "x"),
    ).toMatchObject({
      autoApproveAt: 0.6,
      notifyAt: 0.6,
    });
  });

  it("falls back to the node's own thresholds without a recommendation", () => {
    const routing = adaptiveRouting({ autoApproveAt: 0.9, notifyAt: 0.7 }, null, "only 3 decisions");
    expect(routing).toMatchObject({ autoApproveAt: 0.9, notifyAt: 0.7 });
    expect(routing.reason).toContain("only 3 decisions");
  });
});

describe("reviewThresholds", () => {
  const routing = { autoApproveAt: 0.6, reason: "adaptive: because" };
  it("uses the attached routing only for an adaptive review", () => {
    expect(reviewThresholds({ autoApproveAt: 0.9, adaptive: true }, { text: "", routing })).toEqual({
      autoApproveAt: 0.6,
      notifyAt: undefined,
      reason: "adaptive: because",
    });
    expect(reviewThresholds({ autoApproveAt: 0.9, notifyAt: 0.7 }, { text: "", routing })).toEqual({
      autoApproveAt: 0.9,
      notifyAt: 0.7,
      reason: undefined,
    });
    expect(reviewThresholds({ autoApproveAt: 0.9, adaptive: true }, null).autoApproveAt).toBe(0.9);
  });
});
