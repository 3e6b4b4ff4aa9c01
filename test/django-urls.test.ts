// Django's URL resolving and reversing rules, ported from its own suites
// (issue 13): tests/urlpatterns_reverse/tests.py (test_data, NamespaceTests),
// tests/utils_tests/test_regex_helper.py, tests/urlpatterns/tests.py and
// tests/middleware/tests.py (CommonMiddleware APPEND_SLASH).
import t from 'tap'
import Fastify from 'fastify'
import asyncViews, {
  path, rePath, include, registerConverter, reverse, resolve,
  ImproperlyConfigured, NoReverseMatch, Http404, type HttpRequest
} from 'fastify-async-views'
import { build } from './helpers.ts'

const empty = async (): Promise<Record<string, never>> => ({})
const echo = async (request: HttpRequest, kwargs: Record<string, unknown>): Promise<object> =>
  ({ kwargs, args: request.resolverMatch?.args, route: request.resolverMatch?.route })

// tests/urlpatterns_reverse/included_urls.py, included_urls2.py, extra_urls.py, included_no_kwargs_urls.py
const includedUrls = [
  rePath('^$', empty, { name: 'inner-nothing' }),
  rePath('extra/(?P<extra>\\w+)/$', empty, { name: 'inner-extra' })
]
const includedUrls2 = [
  rePath('^part/(?P<value>\\w+)/$', empty, { name: 'part' }),
  rePath('^part2/(?:(?P<value>\\w+)/)?$', empty, { name: 'part2' })
]
const extraUrls = [
  rePath('^e-places/([0-9]+)/$', empty, { name: 'extra-places' }),
  rePath('^e-people/(?P<name>\\w+)/$', empty, { name: 'extra-people' }),
  rePath('', include(includedUrls2)),
  rePath('^prefix/(?P<prefix>\\w+)/', include(includedUrls2))
]
const includedNoKwargs = [rePath('^inner-no-kwargs/([0-9]+)/$', empty, { name: 'inner-no-kwargs' })]

// tests/urlpatterns_reverse/urls.py (inline-flag patterns left out: JS has no `(?i)`).
const reverseUrls = [
  rePath('^places/([0-9]+)/$', empty, { name: 'places' }),
  rePath('^places?/$', empty, { name: 'places?' }),
  rePath('^places+/$', empty, { name: 'places+' }),
  rePath('^places*/$', empty, { name: 'places*' }),
  rePath('^(?:places/)?$', empty, { name: 'places2?' }),
  rePath('^(?:places/)+$', empty, { name: 'places2+' }),
  rePath('^(?:places/)*$', empty, { name: 'places2*' }),
  rePath('^places/([0-9]+|[a-z_]+)/', empty, { name: 'places3' }),
  rePath('^places/(?P<id>[0-9]+)/$', empty, { name: 'places4' }),
  rePath('^people/(?P<name>\\w+)/$', empty, { name: 'people' }),
  rePath('^people/(?:name/)$', empty, { name: 'people2' }),
  rePath('^people/(?:name/(\\w+)/)?$', empty, { name: 'people2a' }),
  rePath('^people/(?P<name>\\w+)-(?P=name)/$', empty, { name: 'people_backref' }),
  rePath('^optional/(?P<name>.*)/(?:.+/)?', empty, { name: 'optional' }),
  rePath('^optional/(?P<arg1>\\d+)/(?:(?P<arg2>\\d+)/)?', empty, { name: 'named_optional' }),
  rePath('^optional/(?P<arg1>\\d+)/(?:(?P<arg2>\\d+)/)?$', empty, { name: 'named_optional_terminated' }),
  rePath('^nested/noncapture/(?:(?P<p>\\w+))$', empty, { name: 'nested-noncapture' }),
  rePath('^nested/capture/((\\w+)/)?$', empty, { name: 'nested-capture' }),
  rePath('^nested/capture/mixed/((?P<p>\\w+))$', empty, { name: 'nested-mixedcapture' }),
  rePath('^nested/capture/named/(?P<outer>(?P<inner>\\w+)/)?$', empty, { name: 'nested-namedcapture' }),
  rePath('^hardcoded/$', empty, { name: 'hardcoded' }),
  rePath('^hardcoded/doc\\.pdf$', empty, { name: 'hardcoded2' }),
  rePath('^people/(?P<state>\\w\\w)/(?P<name>\\w+)/$', empty, { name: 'people3' }),
  rePath('^people/(?P<state>\\w\\w)/(?P<name>[0-9])/$', empty, { name: 'people4' }),
  rePath('^people/((?P<state>\\w\\w)/test)?/(\\w+)/$', empty, { name: 'people6' }),
  rePath('^character_set/[abcdef0-9]/$', empty, { name: 'range' }),
  rePath('^character_set/[\\w]/$', empty, { name: 'range2' }),
  rePath('^price/\\$([0-9]+)/$', empty, { name: 'price' }),
  rePath('^price/[$]([0-9]+)/$', empty, { name: 'price2' }),
  rePath('^price/[\\$]([0-9]+)/$', empty, { name: 'price3' }),
  rePath('^product/(?P<product>\\w+)\\+\\(\\$(?P<price>[0-9]+(\\.[0-9]+)?)\\)/$', empty, { name: 'product' }),
  rePath('^headlines/(?P<year>[0-9]+)\\.(?P<month>[0-9]+)\\.(?P<day>[0-9]+)/$', empty, { name: 'headlines' }),
  rePath('^windows_path/(?P<drive_name>[A-Z]):\\\\(?P<path>.+)/$', empty, { name: 'windows' }),
  rePath('^special_chars/(?P<chars>.+)/$', empty, { name: 'special' }),
  rePath('^(?P<name>.+)/[0-9]+/$', empty, { name: 'mixed' }),
  rePath('^repeats/a{1,2}/$', empty, { name: 'repeats' }),
  rePath('^repeats/a{2,4}/$', empty, { name: 'repeats2' }),
  rePath('^repeats/a{2}/$', empty, { name: 'repeats3' }),
  rePath('^test/1/?', empty, { name: 'test' }),
  rePath('^outer/(?P<outer>[0-9]+)/', include(includedUrls)),
  rePath('^outer-no-kwargs/([0-9]+)/', include(includedNoKwargs)),
  rePath('', include(extraUrls)),
  rePath('^(?:foo|bar)(\\w+)/$', empty, { name: 'disjunction' }),
  rePath('defaults_view1/(?P<arg1>[0-9]+)/', empty, { kwargs: { arg2: 1 }, name: 'defaults' }),
  rePath('defaults_view2/(?P<arg1>[0-9]+)/', empty, { kwargs: { arg2: 2 }, name: 'defaults' }),
  rePath('^includes/', include([rePath('non_path_include/$', empty, { name: 'non_path_include' })])),
  rePath('(.+)/security/$', empty, { name: 'security' })
]

type Expected = string | typeof NoReverseMatch
// tests/urlpatterns_reverse/tests.py test_data: (name, expected, args, kwargs).
const testData: Array<[string, Expected, unknown[], Record<string, unknown>]> = [
  ['places', '/places/3/', [3], {}],
  ['places', '/places/3/', ['3'], {}],
  ['places', NoReverseMatch, ['a'], {}],
  ['places', NoReverseMatch, [], {}],
  ['places?', '/place/', [], {}],
  ['places+', '/places/', [], {}],
  ['places*', '/place/', [], {}],
  ['places2?', '/', [], {}],
  ['places2+', '/places/', [], {}],
  ['places2*', '/', [], {}],
  ['places3', '/places/4/', [4], {}],
  ['places3', '/places/harlem/', ['harlem'], {}],
  ['places3', NoReverseMatch, ['harlem64'], {}],
  ['places4', '/places/3/', [], { id: 3 }],
  ['people', NoReverseMatch, [], {}],
  ['people', '/people/adrian/', ['adrian'], {}],
  ['people', '/people/adrian/', [], { name: 'adrian' }],
  ['people', NoReverseMatch, ['name with spaces'], {}],
  ['people', NoReverseMatch, [], { name: 'name with spaces' }],
  ['people2', '/people/name/', [], {}],
  ['people2a', '/people/name/fred/', ['fred'], {}],
  ['people_backref', '/people/nate-nate/', ['nate'], {}],
  ['people_backref', '/people/nate-nate/', [], { name: 'nate' }],
  ['optional', '/optional/fred/', [], { name: 'fred' }],
  ['optional', '/optional/fred/', ['fred'], {}],
  ['named_optional', '/optional/1/', [1], {}],
  ['named_optional', '/optional/1/', [], { arg1: 1 }],
  ['named_optional', '/optional/1/2/', [1, 2], {}],
  ['named_optional', '/optional/1/2/', [], { arg1: 1, arg2: 2 }],
  ['named_optional_terminated', '/optional/1/', [1], {}],
  ['named_optional_terminated', '/optional/1/2/', [], { arg1: 1, arg2: 2 }],
  ['hardcoded', '/hardcoded/', [], {}],
  ['hardcoded2', '/hardcoded/doc.pdf', [], {}],
  ['people3', '/people/il/adrian/', [], { state: 'il', name: 'adrian' }],
  ['people3', NoReverseMatch, [], { state: 'il' }],
  ['people3', NoReverseMatch, [], { name: 'adrian' }],
  ['people4', NoReverseMatch, [], { state: 'il', name: 'adrian' }],
  ['people6', '/people/il/test/adrian/', ['il/test', 'adrian'], {}],
  ['people6', '/people//adrian/', ['adrian'], {}],
  ['range', '/character_set/a/', [], {}],
  ['range2', '/character_set/x/', [], {}],
  ['price', '/price/$10/', ['10'], {}],
  ['price2', '/price/$10/', ['10'], {}],
  ['price3', '/price/$10/', ['10'], {}],
  ['product', '/product/chocolate+($2.00)/', [], { price: '2.00', product: 'chocolate' }],
  ['headlines', '/headlines/2007.5.21/', [], { year: 2007, month: 5, day: 21 }],
  ['windows', '/windows_path/C:%5CDocuments%20and%20Settings%5Cspam/', [], { drive_name: 'C', path: 'Documents and Settings\\spam' }],
  ['special', '/special_chars/~@+%5C$*%7C/', ['~@+\\$*|'], {}],
  ['special', '/special_chars/some%20resource/', ['some resource'], {}],
  ['special', '/special_chars/10%25%20complete/', ['10% complete'], {}],
  ['special', '/special_chars/some%20resource/', [], { chars: 'some resource' }],
  ['special', '/special_chars/10%25%20complete/', [], { chars: '10% complete' }],
  ['special', NoReverseMatch, [''], {}],
  ['mixed', '/john/0/', [], { name: 'john' }],
  ['repeats', '/repeats/a/', [], {}],
  ['repeats2', '/repeats/aa/', [], {}],
  ['repeats3', '/repeats/aa/', [], {}],
  ['test', '/test/1', [], {}],
  ['inner-nothing', '/outer/42/', [], { outer: '42' }],
  ['inner-nothing', '/outer/42/', ['42'], {}],
  ['inner-nothing', NoReverseMatch, ['foo'], {}],
  ['inner-extra', '/outer/42/extra/inner/', [], { extra: 'inner', outer: '42' }],
  ['inner-extra', '/outer/42/extra/inner/', ['42', 'inner'], {}],
  ['inner-extra', NoReverseMatch, ['fred', 'inner'], {}],
  ['inner-no-kwargs', '/outer-no-kwargs/42/inner-no-kwargs/1/', ['42', '1'], {}],
  ['disjunction', NoReverseMatch, ['foo'], {}],
  ['extra-places', '/e-places/10/', ['10'], {}],
  ['extra-people', '/e-people/fred/', ['fred'], {}],
  ['extra-people', '/e-people/fred/', [], { name: 'fred' }],
  ['part', '/part/one/', [], { value: 'one' }],
  ['part', '/prefix/xx/part/one/', [], { value: 'one', prefix: 'xx' }],
  ['part2', '/part2/one/', [], { value: 'one' }],
  ['part2', '/part2/', [], {}],
  ['part2', '/prefix/xx/part2/one/', [], { value: 'one', prefix: 'xx' }],
  ['part2', '/prefix/xx/part2/', [], { prefix: 'xx' }],
  ['nested-noncapture', '/nested/noncapture/opt', [], { p: 'opt' }],
  ['nested-capture', '/nested/capture/opt/', ['opt/'], {}],
  ['nested-capture', NoReverseMatch, [], { p: 'opt' }],
  ['nested-mixedcapture', '/nested/capture/mixed/opt', ['opt'], {}],
  ['nested-mixedcapture', NoReverseMatch, [], { p: 'opt' }],
  ['nested-namedcapture', '/nested/capture/named/opt/', [], { outer: 'opt/' }],
  ['nested-namedcapture', NoReverseMatch, [], { outer: 'opt/', inner: 'opt' }],
  ['nested-namedcapture', NoReverseMatch, [], { inner: 'opt' }],
  ['non_path_include', '/includes/non_path_include/', [], {}],
  ['defaults', '/defaults_view1/3/', [], { arg1: 3, arg2: 1 }],
  ['defaults', '/defaults_view2/3/', [], { arg1: 3, arg2: 2 }],
  ['defaults', NoReverseMatch, [], { arg1: 3, arg2: 3 }],
  ['defaults', NoReverseMatch, [], { arg2: 1 }],
  // Security tests
  ['security', '/%2Fexample.com/security/', ['/example.com'], {}]
]

t.test('URLPatternReverse.test_urlpattern_reverse: Django\'s test_data', async (t) => {
  const app = await build(t, { urlpatterns: reverseUrls })
  for (const [name, expected, args, kwargs] of testData) {
    const label = `${name} ${JSON.stringify(args)} ${JSON.stringify(kwargs)}`
    if (expected === NoReverseMatch) t.throws(() => app.reverse(name, { args, kwargs }), NoReverseMatch, `${label} -> NoReverseMatch`)
    else t.equal(app.reverse(name, { args, kwargs }), expected, label)
  }
})

t.test('test_regex_helper.NormalizeTests, through reverse()', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      rePath('^e/\\\\\\^\\$\\.\\|\\?\\*\\+\\(\\)\\[$', empty, { name: 'escape' }),
      rePath('^p/(.*)-(.+)$', empty, { name: 'positional' }),
      rePath('^n/(?:non-capturing)$', empty, { name: 'noncapturing' }),
      rePath('^g/(?P<first_group_name>.*)-(?P<second_group_name>.*)$', empty, { name: 'named' }),
      rePath('^b/(?P<first_group_name>.*)-(?P=first_group_name)$', empty, { name: 'backreference' }),
      rePath(/^k\/(?<a>\w+)-\k<a>$/, empty, { name: 'js-backreference' }),
      rePath('^la/(?=x)x(?!y)(?<=x)(?<!z)/$', empty, { name: 'lookaround' })
    ]
  })
  t.equal(app.reverse('escape'), '/e/%5C%5E$.%7C%3F*+()%5B', 'test_escape')
  t.equal(app.reverse('positional', { args: ['a', 'b'] }), '/p/a-b', 'test_group_positional')
  t.equal(app.reverse('noncapturing'), '/n/non-capturing', 'test_group_noncapturing')
  t.equal(app.reverse('named', { kwargs: { first_group_name: 'a', second_group_name: 'b' } }), '/g/a-b', 'test_group_named')
  t.equal(app.reverse('backreference', { kwargs: { first_group_name: 'a' } }), '/b/a-a', 'test_group_backreference')
  t.equal(app.reverse('js-backreference', { args: ['q'] }), '/k/q-q', 'JS \\k<name> too')
  t.equal(app.reverse('lookaround'), '/la/x/', 'lookarounds are ignored')
})

t.test('NoReverseMatch messages, reverse(null), query: null (test_reverse_none, test_illegal_*_message)', async (t) => {
  const app = await build(t, { urlpatterns: [rePath('^places/([0-9]+)/$', empty, { name: 'places' })] })
  t.throws(() => app.reverse(null as unknown as string), { name: 'NoReverseMatch', message: "Reverse for 'null' not found. 'null' is not a valid view function or pattern name." })
  t.throws(() => app.reverse('places'), { message: "Reverse for 'places' with no arguments not found. 1 pattern(s) tried: ['^places/([0-9]+)/$']" })
  t.throws(() => app.reverse('places', { kwargs: { arg1: 2 } }), { message: /^Reverse for 'places' with keyword arguments '\{"arg1":2\}' not found\. 1 pattern\(s\) tried:/ })
  t.equal(app.reverse('places', { args: [1], query: null }), '/places/1/', 'query: null is ignored')
  t.equal(app.reverse('places', { args: [1], kwargs: null }), '/places/1/')
  t.throws(() => app.reverse('nope:places', { args: [1] }), { name: 'NoReverseMatch', message: "'nope' is not a registered namespace" })
})

t.test('path() converters: a matching string, the leading // escaped, toUrl errors (urlpatterns/tests.py)', async (t) => {
  registerConverter('dynamic13', {
    regex: '[a-z]+',
    toJs: (value: string) => value,
    toUrl: (value: unknown) => {
      if (value === 'type') throw new TypeError('This type error propagates.')
      if (value === 'value') throw new RangeError('no match')
      return String(value)
    }
  })
  const app = await build(t, {
    urlpatterns: [
      path('int/<int:n>/', echo, { name: 'int' }),
      path('files/<path:name>/', echo, { name: 'files' }),
      path('<path:url>/', echo, { name: 'catch' }),
      path('dyn/<dynamic13:v>/', echo, { name: 'dynamic' })
    ]
  })
  t.equal(app.reverse('int', { kwargs: { n: '01' } }), '/int/01/', "a string matching int's regex is accepted, as Django")
  t.equal(app.reverse('int', { args: ['7'] }), '/int/7/')
  t.throws(() => app.reverse('int', { kwargs: { n: 'x1' } }), NoReverseMatch)
  t.throws(() => app.reverse('int', { kwargs: { n: -1 } }), NoReverseMatch)
  t.equal(app.reverse('catch', { args: ['/evil.com'] }), '/%2Fevil.com/', 'never a protocol-relative URL')
  t.equal(app.reverse('catch', { kwargs: { url: '//evil.com/x' } }), '/%2F/evil.com/x/')
  t.equal(app.reverse('files', { kwargs: { name: 'a/b' } }), '/files/a/b/')
  t.throws(() => app.reverse('dynamic', { kwargs: { v: 'type' } }), { name: 'TypeError', message: 'This type error propagates.' }, 'test_reverse_type_error_propagates')
  t.throws(() => app.reverse('dynamic', { kwargs: { v: 'value' } }), NoReverseMatch, 'test_reverse_value_error_means_no_match (any other error)')
  t.same((await app.inject('/int/01/')).json().kwargs, { n: 1 })
})

t.test('a shared name picks the last-defined pattern first (Django\'s reverse_dict order)', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('first/', empty, { name: 'shared' }),
      path('second/', empty, { name: 'shared' }),
      path('one/<int:a>/', empty, { name: 'arity' }),
      path('two/<int:a>/', empty, { name: 'arity' })
    ]
  })
  t.equal(app.reverse('shared'), '/second/')
  t.equal(app.reverse('arity', { args: [1] }), '/two/1/')
})

t.test('NamespaceTests: app namespaces, default instances, nested and mixed lookups', async (t) => {
  const urlobject = (appName: string, namespace: string): ReturnType<typeof include> => include({
    appName,
    urlpatterns: [
      rePath('^inner/$', empty, { name: 'urlobject-view' }),
      rePath('^inner/(?P<arg1>[0-9]+)/(?P<arg2>[0-9]+)/$', empty, { name: 'urlobject-view' })
    ]
  }, { namespace })
  const includedNamespaceUrls = {
    appName: 'included_namespace_urls',
    urlpatterns: [
      path('normal/', empty, { name: 'inc-normal-view' }),
      path('test3/', urlobject('testapp', 'test-ns3')),
      path('ns-included3/', include({ appName: 'included_urls', urlpatterns: includedUrls }, { namespace: 'inc-ns3' }))
    ]
  }
  const app = await build(t, {
    urlpatterns: [
      path('test1/', urlobject('testapp', 'test-ns1')),
      path('test2/', urlobject('testapp', 'test-ns2')),
      path('default/', urlobject('testapp', 'testapp')),
      path('other1/', urlobject('nodefault', 'other-ns1')),
      path('other2/', urlobject('nodefault', 'other-ns2')),
      path('ns-included1/', include(includedNamespaceUrls, { namespace: 'inc-ns1' })),
      path('included/', include(includedNamespaceUrls.urlpatterns))
    ]
  })
  t.equal(app.reverse('test-ns1:urlobject-view'), '/test1/inner/', 'test_namespace_object')
  t.equal(app.reverse('test-ns1:urlobject-view', { args: [37, 42] }), '/test1/inner/37/42/')
  t.equal(app.reverse('testapp:urlobject-view'), '/default/inner/', 'test_app_lookup_object: the instance named like the app')
  t.equal(app.reverse('nodefault:urlobject-view'), '/other2/inner/', 'test_app_lookup_object_without_default: the last instance')
  t.equal(app.reverse('inc-ns1:test-ns3:urlobject-view'), '/ns-included1/test3/inner/', 'test_multiple_namespace_pattern')
  t.equal(app.reverse('inc-ns1:testapp:urlobject-view'), '/ns-included1/test3/inner/', 'an app namespace inside an instance namespace')
  t.equal(app.reverse('included_namespace_urls:testapp:urlobject-view'), '/ns-included1/test3/inner/', 'app namespaces at both levels')
  t.equal(app.reverse('inc-ns1:inc-ns3:inner-nothing'), '/ns-included1/ns-included3/')
  t.equal(app.reverse('inc-normal-view'), '/included/normal/', 'a non-namespaced include folds in')
  t.equal(app.reverse('test-ns3:urlobject-view'), '/included/test3/inner/', 'the namespace of a non-namespaced include is reachable at the root')
  t.throws(() => app.reverse('blahblah:urlobject-view'), { message: "'blahblah' is not a registered namespace" }, 'test_non_existent_namespace')
  t.throws(() => app.reverse('test-ns1:blahblah:urlobject-view'), { message: "'blahblah' is not a registered namespace inside 'test-ns1'" })
})

t.test('a kwarg repeated across include levels loads, and the inner value wins (Django\'s resolver)', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('<int:pk>/', include([path('<int:pk>/', echo, { name: 'dup' })])),
      rePath('^r/(?P<pk>[0-9]+)/', include([rePath('^(?P<pk>[a-z]+)/$', echo, { name: 'dup-re' })]))
    ]
  })
  t.same((await app.inject('/1/2/')).json().kwargs, { pk: 2 })
  t.same((await app.inject('/r/1/ab/')).json().kwargs, { pk: 'ab' })
  await t.rejects(build(t, { urlpatterns: [path('<int:pk>/<int:pk>/', empty)] }), ImproperlyConfigured, 'twice in one route is still refused')
})

t.test('resolverMatch.route of an included regex drops the inner ^; non-ASCII parameter names', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('included_urls/', include([rePath('^more/(?P<extra>\\w+)/$', echo, { name: 'inner-more' })])),
      path('hello/<str:\u0394>/', echo, { name: 'delta' }),
      path('pair/<str:\u0394>/<int:p0>/', echo)
    ]
  })
  t.same((await app.inject('/pair/y/5/')).json().kwargs, { Δ: 'y', p0: 5 }, 'a non-ASCII name never takes the Fastify name of another')
  t.equal((await app.inject('/included_urls/more/some_value/')).json().route, 'included_urls/more/(?P<extra>\\w+)/$')
  // test_allows_non_ascii_but_valid_identifiers
  t.same((await app.inject('/hello/1/')).json().kwargs, { Δ: '1' })
  t.equal(app.reverse('delta', { kwargs: { Δ: 'x' } }), '/hello/x/')
})

t.test('module-level reverse() and resolve() serve the one ready app', async (t) => {
  t.throws(() => reverse('x'), ImproperlyConfigured, 'no app ready yet')
  const app = Fastify()
  await app.register(asyncViews, { prefix: '/api', urlpatterns: [path('items/<int:id>/', echo, { name: 'item' })] })
  await app.ready()
  t.equal(reverse('item', { kwargs: { id: 3 } }), '/api/items/3/')
  const match = resolve('/api/items/3/')
  t.match(match, { urlName: 'item', kwargs: { id: 3 }, route: 'items/<int:id>/' })
  const notFound = (fn: () => unknown): unknown => { try { fn() } catch (error) { return error } }
  t.ok(notFound(() => resolve('/api/nope/')) instanceof Http404, 'Resolver404 is an Http404')
  t.match(notFound(() => resolve('items/3/')), { name: 'Resolver404', statusCode: 404 }, "a path must start with '/', as Django's test_non_regex")
  t.equal(app.resolve('/api/items/4/').kwargs.id, 4)
  const other = Fastify()
  await other.register(asyncViews, { urlpatterns: [path('x/', empty, { name: 'x' })] })
  await other.ready()
  t.throws(() => reverse('x'), { name: 'ImproperlyConfigured', message: /2 apps/ }, 'several apps: the caller must say which')
  await other.close()
  t.equal(reverse('item', { kwargs: { id: 5 } }), '/api/items/5/', 'a closed app no longer counts')
  await app.close()
  t.throws(() => resolve('/api/items/3/'), ImproperlyConfigured)
})

t.test('APPEND_SLASH by Django\'s rule, whatever the route table (CommonMiddlewareTest.test_append_slash_*)', async (t) => {
  const app = await build(t, {
    urlpatterns: [
      path('slash/', empty),
      path('<path:x>/', echo),
      rePath('^(.+)/security/$', empty)
    ]
  })
  const redirect = await app.inject('/slash?q=1')
  t.equal(redirect.statusCode, 301, 'a catch-all route does not switch APPEND_SLASH off')
  t.equal(redirect.headers.location, '/slash/?q=1')
  t.equal((await app.inject('/deep/path')).headers.location, '/deep/path/')
  t.equal((await app.inject({ method: 'POST', url: '/slash' })).statusCode, 404, 'only GET and HEAD')
  const evil = await app.inject('//evil.com')
  t.equal(evil.statusCode, 301)
  t.equal(evil.headers.location, '/%2Fevil.com/', 'never protocol-relative')

  const all = await build(t, { urlpatterns: [rePath('^(.*)$', echo), path('page/', empty)] })
  t.equal((await all.inject('/page')).statusCode, 200, 'a path that resolves is served, not redirected')
})
