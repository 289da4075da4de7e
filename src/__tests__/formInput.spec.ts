/**
 * The batch forms' input (issue 22, items 4 and 5): walltimes as the batch
 * systems read them (the schema's own examples, which the server's tests use
 * too), errors in words for every field at once, and the SGE resource spec
 * that follows the memory field.
 */
import validator from '@rjsf/validator-ajv8';
import { errorsInWords } from '../fieldErrors';
import {
  derivedValue,
  followMemory,
  resourceSpecProblems,
  specFollowsMemory
} from '../resourceSpec';
import { resourceSummary } from '../resources';
import { translationBundle } from '../translation';
import { normalisedOptions, RULES } from '../walltimes';

// Node's modules in a test (the package has no Node types): the schema file itself.
declare function require(name: string): any;
declare const __dirname: string;
const fs = require('fs');
const yaml = require('js-yaml');

const trans = translationBundle();
const defs = yaml.load(
  fs.readFileSync(`${__dirname}/../../schema/backends/jobqueue.yaml`, 'utf8')
).$defs;

/** A batch form as the server sends it (references inlined). */
function form(walltime: string): Record<string, any> {
  return {
    type: 'object',
    required: ['walltime'],
    properties: {
      cores: defs.cores,
      memory: defs.memory,
      walltime: defs[walltime],
      lifetime: defs.lifetime
    }
  };
}

describe('walltimes as the batch systems read them', () => {
  it.each(['slurm_walltime', 'sge_walltime'])(
    '%s: its rule gives the schema examples',
    name => {
      const field = defs[name];
      const rule = RULES[field['x-normalise']];
      const examples = Object.entries(field['x-normalise-examples']);
      expect(examples.length).toBeGreaterThan(4);
      for (const [written, meant] of examples) {
        expect(new RegExp(field.pattern, 'u').test(written)).toBe(true);
        expect([written, rule(written)]).toEqual([written, meant]);
      }
    }
  );

  it('the summary counts SLURM minutes and SGE seconds as the systems do', () => {
    const scaling = { workers: 2 };
    const slurm = normalisedOptions(form('slurm_walltime'), {
      cores: 2,
      processes: 1,
      walltime: '90'
    });
    expect(slurm.walltime).toBe('01:30:00');
    expect(resourceSummary('slurm', slurm, scaling).coreHours).toBe(6);
    const sge = normalisedOptions(form('sge_walltime'), {
      cores: 1,
      walltime: '5400'
    });
    expect(resourceSummary('sge', sge, scaling).coreHours).toBe(3);
    // what the pattern refuses is left for the form to flag
    expect(
      normalisedOptions(form('sge_walltime'), { walltime: '90:00' })
    ).toEqual({ walltime: '90:00' });
  });
});

describe('errors in words, every field at once', () => {
  function errors(walltime: string, data: Record<string, any>): string[] {
    const schema = form(walltime);
    return validator
      .validateFormData(data, schema as any, undefined, e =>
        errorsInWords(e, schema, trans)
      )
      .errors.map(e => e.message ?? '');
  }

  it('names each field by its label and says what to write', () => {
    expect(
      errors('slurm_walltime', {
        cores: 0,
        memory: 'lots',
        walltime: 'abc',
        lifetime: '25 minutes'
      }).sort()
    ).toEqual([
      'Cores per job: must be at least 1',
      'Memory per job: use a size such as 8 GB or 16 GiB',
      'Walltime per job: use HH:MM:SS, e.g. 01:30:00 (or minutes, MM:SS, D-HH:MM:SS)',
      'Worker lifetime: use a whole number of s, m or h, e.g. 25m'
    ]);
    expect(errors('sge_walltime', { walltime: '' })).toEqual([
      'Walltime per job: use HH:MM:SS, e.g. 01:30:00 (or seconds)'
    ]);
    expect(errors('sge_walltime', {})).toEqual([
      'Walltime per job: is required'
    ]);
  });

  it("accepts the batch systems' own walltimes", () => {
    for (const value of ['60', '45:30', '1-00:00:00', '2-12', '01:30:00']) {
      expect(errors('slurm_walltime', { walltime: value })).toEqual([]);
    }
    for (const value of ['3600', '100:00:00']) {
      expect(errors('sge_walltime', { walltime: value })).toEqual([]);
    }
  });
});

describe("SGE's memory resource and the memory field", () => {
  const seed = { memory: '8 G', resource_spec: 'h_vmem=8G' };

  it('a spec derived from the memory follows it, through a half-typed value', () => {
    expect(derivedValue('4 GiB')).toBe('4.29497G');
    let follows = specFollowsMemory(seed, 'h_vmem');
    expect(follows).toBe(true);
    let options: Record<string, any> = seed;
    for (const memory of [' G', '4 G']) {
      const next = followMemory(
        options,
        { ...options, memory },
        'h_vmem',
        follows
      );
      options = next.options;
      follows = next.follows;
    }
    expect(options).toEqual({ memory: '4 G', resource_spec: 'h_vmem=4G' });
    expect(resourceSpecProblems(options, 'h_vmem', trans)).toEqual({});
  });

  it('a spec written otherwise stays, and a disagreement is flagged', () => {
    const written = { memory: '8 G', resource_spec: 'arch=x,h_vmem=10G' };
    const follows = specFollowsMemory(written, 'h_vmem');
    expect(follows).toBe(false);
    const next = followMemory(
      written,
      { ...written, memory: '16 G' },
      'h_vmem',
      follows
    );
    expect(next.options.resource_spec).toBe('arch=x,h_vmem=10G');
    expect(resourceSpecProblems(next.options, 'h_vmem', trans)).toEqual({
      resource_spec:
        'h_vmem=10G is less than the memory per job (16 G); the jobs would be killed'
    });
    // editing the spec to what the memory gives makes it follow again
    const edited = followMemory(
      next.options,
      { ...next.options, resource_spec: 'arch=x,h_vmem=16G' },
      'h_vmem',
      false
    );
    expect(edited.follows).toBe(true);
  });
});
