// Runs minrl's ONNX exports in ONNX Runtime on episodes written by
// export/runtime_test.go and compares the actions with minrl's own.
//
// usage: node check.js CASES.json
//
// Each case lists, per step, the feeds that are not carried (observations,
// returns-to-go, timesteps, or whole windows) and minrl's actions; carried
// inputs (recurrent states, the previous action) start from "init" and
// are fed back from the outputs named in "carry", step by step, as a
// deployment would. A case passes when the largest action difference is
// within its tolerance, and must fail when it is marked expect_match false
// (a perturbed model). Also prints ONNX Runtime's latency per step.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function tensor(f) {
  if (f.type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(f.data.map((v) => BigInt(v))), f.dims);
  return new ort.Tensor('float32', Float32Array.from(f.data), f.dims);
}

async function runCase(dir, c, reps) {
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  const sess = await ort.InferenceSession.create(path.join(dir, c.model), opts);
  const steps = c.steps.map((s) => Object.fromEntries(Object.entries(s.feeds).map(([k, v]) => [k, tensor(v)])));
  let maxDiff = 0;
  let worst = '';
  let elapsed = 0n;
  for (let rep = 0; rep < reps; rep++) {
    let carried = Object.fromEntries(Object.entries(c.init).map(([k, v]) => [k, tensor(v)]));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < steps.length; i++) {
      const out = await sess.run({ ...carried, ...steps[i] });
      if (rep === 0) {
        const got = out.action.data;
        const want = c.steps[i].expected;
        if (got.length !== want.length) throw new Error(`${c.name}: step ${i}: ${got.length} action values, want ${want.length}`);
        for (let j = 0; j < want.length; j++) {
          const d = Math.abs(got[j] - want[j]);
          if (!(d <= maxDiff)) { maxDiff = d; worst = `step ${i} value ${j}: ${got[j]} vs ${want[j]}`; }
        }
      }
      carried = {};
      for (const [o, inp] of Object.entries(c.carry)) carried[inp] = out[o];
    }
    if (rep > 0) elapsed += process.hrtime.bigint() - t0;
  }
  const batch = Object.values(c.steps[0].feeds)[0].dims[0];
  const us = reps > 1 ? Number(elapsed) / 1e3 / ((reps - 1) * steps.length) : NaN;
  return { maxDiff, worst, us, batch };
}

async function main() {
  const file = process.argv[2];
  const reps = Number(process.env.ORT_REPS || 3);
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  let failed = false;
  for (const c of spec.cases) {
    const r = await runCase(path.dirname(file), c, reps);
    const match = r.maxDiff <= c.tolerance;
    const ok = match === c.expect_match;
    if (!ok) failed = true;
    const what = c.expect_match ? `max |Δaction| ${r.maxDiff.toExponential(2)} (tolerance ${c.tolerance})`
      : `perturbed model caught: max |Δaction| ${r.maxDiff.toExponential(2)}`;
    console.log(`${ok ? 'ok' : 'FAIL'} ${c.name}: ${c.steps.length} steps, batch ${r.batch}: ${what}; ORT ${r.us.toFixed(1)} µs/step` +
      (ok || !c.expect_match ? '' : ` (worst at ${r.worst})`));
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(2); });
