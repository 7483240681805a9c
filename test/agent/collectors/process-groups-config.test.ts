/**
 * process-exporter's configuration file as the agent reads it: the YAML
 * subset against the `yaml` package on the files of process-exporter's README
 * and variants of them, every refusal with its line, validation reporting
 * every problem at once, Go's regular expressions and templates, and
 * process-exporter's matching rules.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import {
  compileNameTemplate, defaultProcessGroups, goBase, goRegExp, parseProcessGroups, parseYamlSubset, ProcessGroupsConfigError,
  type ProcAttributes,
} from '../../../agent/collectors/process-groups-config.ts';

/** process-exporter's README and Debian's default file, and the styles such files come in. */
const DOCUMENTS = [
  `process_names:
  - name: "{{.Comm}}"
    cmdline:
    - '.+'
`,
  `
process_names:
  # comm is the second field of /proc/<pid>/stat minus parens.
  # It is the base executable name, truncated at 15 chars.
  # It cannot be modified by the program, unlike exe.
  - comm:
    - bash

  # exe is argv[0]. If no slashes, only basename of argv[0] need match.
  # If exe contains slashes, argv[0] must match exactly.
  - exe:
    - postgres
    - /usr/local/bin/prometheus

  # cmdline is a list of regexps applied to argv.
  # Each must match, and any captures are added to the .Matches map.
  - name: "{{.ExeFull}}:{{.Matches.Cfgfile}}"
    exe:
    - /usr/local/bin/process-exporter
    cmdline:
    - -config.path\\s+(?P<Cfgfile>\\S+)
`,
  `process_names:
  - comm:
    - chromium-browse
    - bash
    - prometheus
    - gvim
  - exe:
    - /sbin/upstart
    cmdline:
    - --user
    name: upstart:-user
`,
  `---
process_names:
    -   name: 'it''s {{ .Comm }}'   # a comment
        comm: [nginx, "php-fpm7.4", 'redis-server']
    -
        exe:
            - java
        cmdline: ['-jar\\s+(?P<jar>[^ ]+)\\.jar']
        name: "java:{{.Matches.jar}}"
    - name: "{{.Username}}"
      comm:
      - "sshd"
`,
  `process_names:
- name: "{{.Comm}}"
  cmdline:
  - .+  # all but kernel threads
- comm: ["a#b", 'c # d']
...
ignored: [after, the, end]
`,
];

test('the YAML subset reads what the yaml package reads, on process-exporter\'s files', () => {
  for (const doc of DOCUMENTS) {
    const theirs = parseYaml(doc.replace(/\n\.\.\.\n[\s\S]*$/, '\n'));
    assert.equal(parseYamlSubset(doc), theirs, doc);
  }
});

test('the YAML subset refuses what it does not read, with the line', () => {
  const cases: [string, RegExp][] = [
    ['process_names:\n\t- comm: [a]\n', /line 2: a tab in the indentation/],
    ['process_names: &x\n  - comm: [a]\n', /line 1: anchors, aliases, tags and block scalars/],
    ['process_names:\n  - name: |\n      x\n', /line 2: anchors, aliases, tags and block scalars/],
    ['process_names:\n  - {comm: [a]}\n', /line 2: flow mappings/],
    ['process_names:\n  - name: {{.Comm}}\n    comm: [a]\n', /line 2: quote a template: "\{\{\.Comm\}\}"/],
    ['process_names:\n  - name: "{{.Comm}}\n', /line 2: a double-quoted string is not closed/],
    ['process_names:\n  - comm: [a]\n    comm: [b]\n', /line 3: the key "comm" is given twice/],
    ['a: 1\n---\nb: 2\n', /line 2: more than one YAML document/],
    ['process_names:\n  - comm:\n    - a\n   - b\n', /line 4: unexpected indentation/],
    ['process_names:\n  - name: a\n      b\n', /line 3: a value over several lines/],
    ['process_names:\n  - name: a: b\n', /line 2: .*cannot hold ": "/],
  ];
  for (const [doc, message] of cases) {
    try {
      parseProcessGroups(doc);
      assert.unreachable(`accepted: ${doc}`);
    } catch (err) {
      assert.instance(err, ProcessGroupsConfigError);
      assert.is((err as ProcessGroupsConfigError).code, 'MUSTER_ERR_PROCESS_GROUPS_CONFIG');
      assert.match((err as Error).message, message, doc);
    }
  }
});

test('a configuration with several mistakes reports every one at once', () => {
  const doc = `process_names:
  - name: "{{.Comm}}-{{.PID}}"
    comm: [a]
  - cmdlines: ['.+']
  - exe: java
  - cmdline: ['(?U)a+', 'x(?P<v>\\d+)', '\\pL']
    name: "{{.Matches.version}}"
  - comm: [b]
    name: "{{ .Foo }}"
proces_names: []
`;
  try {
    parseProcessGroups(doc);
    assert.unreachable('accepted');
  } catch (err) {
    assert.instance(err, ProcessGroupsConfigError);
    assert.equal((err as Error).message.split('\n'), [
      'unknown key "proces_names" (the file has one key, process_names)',
      'process_names[0].name "{{.Comm}}-{{.PID}}": {{.PID}} would make a group, and series, per process',
      'process_names[1]: unknown key "cmdlines" (the keys are name, comm, exe, cmdline)',
      'process_names[1]: no comm, exe or cmdline matcher',
      'process_names[2].exe must be a list, e.g. exe: [a, b]',
      'process_names[2]: no comm, exe or cmdline matcher',
      'process_names[3].cmdline[0] "(?U)a+": the flag (?U) has no JavaScript equivalent',
      'process_names[3].cmdline[2] "\\\\pL": Unicode classes (\\p) are not supported',
      'process_names[3].name "{{.Matches.version}}": {{.Matches.version}}: no cmdline regex of this group has a group named version (write (?P<version>...))',
      'process_names[4].name "{{ .Foo }}": {{.Foo}}: the fields are .Comm, .ExeBase, .ExeFull, .Username, .Cgroups and .Matches.NAME',
    ]);
  }
  assert.throws(() => parseProcessGroups(''), /a mapping with a process_names list/);
  assert.throws(() => parseProcessGroups('process_names: []\n'), /process_names must be a list of groups/);
});

test('Go regular expressions in JavaScript', () => {
  assert.is(goRegExp('(?i)^NGINX').test('nginx: master'), true);
  assert.equal({ ...goRegExp('-config\\.path\\s+(?P<cfg>\\S+)').exec('pe -config.path /etc/x.yml')?.groups }, { cfg: '/etc/x.yml' });
  assert.is(goRegExp('\\Afoo\\z').test('foo'), true);
  assert.is(goRegExp('\\Afoo\\z').test('foo\n'), false);
  assert.is(goRegExp('\\Qa.b\\E+').test('a.bbb'), true);
  assert.is(goRegExp('\\Qa.b\\E').test('axb'), false);
  assert.is(goRegExp('^[[:digit:]]+$').test('123'), true);
  assert.is(goRegExp('^[]a]+$').test(']a]'), true);
  assert.is(goRegExp('^[^]a]$').test('b'), true);
  assert.is(goRegExp('(?:ab)+').test('abab'), true);
  assert.throws(() => goRegExp('a(?i)b'), /only at the start/);
  assert.throws(() => goRegExp('[[:foo:]]'), /\[:foo:\] is not supported/);
  assert.is(goBase('/usr/bin/python3'), 'python3');
  assert.is(goBase('/usr/bin/'), 'bin');
  assert.is(goBase(''), '.');
  assert.is(goBase('nginx: worker process'), 'nginx: worker process');
});

test('name templates: fields, matches, index, trim markers, comments', () => {
  const p = { Comm: 'java', ExeBase: 'java', ExeFull: '/usr/bin/java', Username: 'app', Cgroups: ['/system.slice/app.service'], Matches: { jar: 'shop' } };
  assert.is(compileNameTemplate('{{.ExeFull}}:{{.Matches.jar}}', new Set(['jar']))(p), '/usr/bin/java:shop');
  assert.is(compileNameTemplate('{{index .Matches "jar"}}@{{ .Username }}', new Set(['jar']))(p), 'shop@app');
  assert.is(compileNameTemplate('a  {{- .Comm -}}  b{{/* note */}}', new Set())(p), 'ajavab');
  assert.is(compileNameTemplate('{{.Cgroups}}', new Set())(p), '[/system.slice/app.service]');
  assert.throws(() => compileNameTemplate('{{.Comm', new Set()), /without its \}\}/);
  assert.throws(() => compileNameTemplate('{{printf "%s" .Comm}}', new Set()), /is not supported/);
});

const proc = (comm: string, cmdline: string[], username = 'root'): ProcAttributes => ({ comm, cmdline, username, cgroups: [] });

test('matching follows process-exporter: first group wins, all selectors must match, exe by base name or full path', () => {
  const readme = parseProcessGroups(DOCUMENTS[1]!);
  assert.is(readme.match(proc('bash', ['-bash'])), '-bash', 'the default name is {{.ExeBase}}');
  assert.is(readme.match(proc('postgres', ['/usr/lib/postgresql/15/bin/postgres', '-D', '/var/lib/postgresql'])), 'postgres');
  assert.is(readme.match(proc('prometheus', ['/usr/local/bin/prometheus'])), 'prometheus');
  assert.is(readme.match(proc('prometheus', ['/usr/bin/prometheus'])), undefined, 'a path in exe must match argv[0] exactly');
  assert.is(readme.match(proc('process-exporte', ['/usr/local/bin/process-exporter', '-config.path', '/etc/pe.yml'])), '/usr/local/bin/process-exporter:/etc/pe.yml');
  assert.is(readme.match(proc('process-exporte', ['/usr/local/bin/process-exporter'])), undefined, 'every cmdline regex must match');
  assert.is(readme.match(proc('sleep', ['sleep', '1'])), undefined);

  const all = defaultProcessGroups();
  assert.is(all.match(proc('kworker/0:1', [])), undefined, 'kernel threads have no command line');
  assert.is(all.match(proc('node', ['/usr/bin/node', 'x.js'])), 'node');
  assert.is(all.usesCgroups, false);
  assert.is(all.matchesWithoutCmdline, false, 'the default takes no kernel thread: the collector need not read them');

  const home = parseProcessGroups(DOCUMENTS[2]!);
  assert.is(home.match(proc('upstart', ['/sbin/upstart', '--user'])), 'upstart:-user');
  assert.is(home.match(proc('upstart', ['/sbin/upstart'])), undefined);
  assert.is(home.match(proc('bash', [])), 'bash', '{{.ExeBase}} of a process without a command line is its comm');
  assert.is(home.matchesWithoutCmdline, true, 'a comm-only group can take a kernel thread');
  assert.is(parseProcessGroups('process_names:\n  - cmdline: [\'.*\']\n').matchesWithoutCmdline, true, 'a cmdline regex that matches nothing');
  assert.is(parseProcessGroups('process_names:\n  - exe: [a]\n  - cmdline: [\'.+\']\n').matchesWithoutCmdline, false);

  const users = parseProcessGroups(DOCUMENTS[3]!);
  assert.is(users.match(proc('nginx', ['nginx: worker process'])), "it's nginx");
  assert.is(users.match(proc('java', ['java', '-Xmx1g', '-jar', '/srv/shop.jar'])), 'java:/srv/shop');
  assert.is(users.match(proc('sshd', ['sshd: alice'], 'alice')), 'alice');
});

test.run();
