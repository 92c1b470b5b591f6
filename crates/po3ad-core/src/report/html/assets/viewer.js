// The report's 3D viewer: the subsampled points of one scan, coloured by score,
// drawn as WebGL points with an orthographic camera (drag rotates, wheel zooms);
// a 2D canvas fallback draws the same projection where WebGL is unavailable. After
// each draw the canvas gets data-lit-pixels / data-checksum, so a headless check can
// tell a drawn view from a blank one.
(function () {
  'use strict';
  var dataEl = document.getElementById('view-data');
  var canvas = document.getElementById('viewer');
  if (!dataEl || !canvas) return;
  var data = JSON.parse(dataEl.textContent);
  function bytes(b64) {
    var s = atob(b64), a = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) a[i] = s.charCodeAt(i);
    return a;
  }
  var scans = data.scans.map(function (s) {
    var pos = bytes(s.pos), rgb = bytes(s.rgb), n = rgb.length / 3;
    var dv = new DataView(pos.buffer), b = s.bbox;
    var r = Math.max(b[3] - b[0], b[4] - b[1], b[5] - b[2]) / 2 || 1;
    var xyz = new Float32Array(3 * n), col = new Float32Array(3 * n);
    for (var i = 0; i < n; i++) {
      for (var k = 0; k < 3; k++) {
        var v = b[k] + (b[k + 3] - b[k]) * dv.getUint16((3 * i + k) * 2, true) / 65535;
        xyz[3 * i + k] = (v - (b[k] + b[k + 3]) / 2) / r;
        col[3 * i + k] = rgb[3 * i + k] / 255;
      }
    }
    return { name: s.name, n: n, total: s.total_points, xyz: xyz, col: col, rgb: rgb };
  });
  var view = { yaw: 0.6, pitch: -0.45, zoom: 0.9, scan: 0 };
  function rotation() {
    var cy = Math.cos(view.yaw), sy = Math.sin(view.yaw), cp = Math.cos(view.pitch), sp = Math.sin(view.pitch);
    // R = Rx(pitch) * Ry(yaw), row-major.
    return [cy, 0, sy, sp * sy, cp, -sp * cy, -cp * sy, sp, cp * cy];
  }
  var gl = null;
  try {
    gl = canvas.getContext('webgl', { preserveDrawingBuffer: true, antialias: false });
  } catch (e) { gl = null; }
  var prog, bufP, bufC, loc;
  if (gl) {
    var vs = 'attribute vec3 p;attribute vec3 c;uniform mat3 R;uniform vec2 s;uniform float ps;varying vec3 v;' +
      'void main(){vec3 q=R*p;gl_Position=vec4(q.x*s.x,q.y*s.y,clamp(-q.z*0.4,-1.0,1.0),1.0);gl_PointSize=ps;v=c;}';
    var fs = 'precision mediump float;varying vec3 v;void main(){gl_FragColor=vec4(v,1.0);}';
    var sh = function (type, src) {
      var o = gl.createShader(type); gl.shaderSource(o, src); gl.compileShader(o);
      if (!gl.getShaderParameter(o, gl.COMPILE_STATUS)) throw new Error('viewer shader: ' + gl.getShaderInfoLog(o));
      return o;
    };
    prog = gl.createProgram();
    gl.attachShader(prog, sh(gl.VERTEX_SHADER, vs));
    gl.attachShader(prog, sh(gl.FRAGMENT_SHADER, fs));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error('viewer program: ' + gl.getProgramInfoLog(prog));
    loc = { p: gl.getAttribLocation(prog, 'p'), c: gl.getAttribLocation(prog, 'c'), R: gl.getUniformLocation(prog, 'R'),
      s: gl.getUniformLocation(prog, 's'), ps: gl.getUniformLocation(prog, 'ps') };
    bufP = gl.createBuffer(); bufC = gl.createBuffer();
  }
  var ctx2d = gl ? null : canvas.getContext('2d');
  function load(i) {
    view.scan = i;
    var s = scans[i];
    if (gl) {
      gl.bindBuffer(gl.ARRAY_BUFFER, bufP); gl.bufferData(gl.ARRAY_BUFFER, s.xyz, gl.STATIC_DRAW);
      gl.bindBuffer(gl.ARRAY_BUFFER, bufC); gl.bufferData(gl.ARRAY_BUFFER, s.col, gl.STATIC_DRAW);
    }
    var info = document.getElementById('view-info');
    if (info) info.textContent = s.n + ' of ' + s.total + ' points shown';
    var sel = document.getElementById('view-select');
    if (sel) sel.value = String(i);
    draw();
  }
  function draw() {
    var s = scans[view.scan], R = rotation(), w = canvas.width, h = canvas.height;
    var sx = view.zoom * Math.min(1, h / w), sy = view.zoom * Math.min(1, w / h);
    if (gl) {
      gl.viewport(0, 0, w, h);
      gl.clearColor(1, 1, 1, 1);
      gl.enable(gl.DEPTH_TEST); gl.depthFunc(gl.LEQUAL);
      gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
      gl.useProgram(prog);
      // WebGL wants column-major: pass R transposed by hand.
      gl.uniformMatrix3fv(loc.R, false, [R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8]]);
      gl.uniform2f(loc.s, sx, sy);
      gl.uniform1f(loc.ps, Math.max(2, 3 * view.zoom));
      gl.bindBuffer(gl.ARRAY_BUFFER, bufP); gl.enableVertexAttribArray(loc.p); gl.vertexAttribPointer(loc.p, 3, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, bufC); gl.enableVertexAttribArray(loc.c); gl.vertexAttribPointer(loc.c, 3, gl.FLOAT, false, 0, 0);
      gl.drawArrays(gl.POINTS, 0, s.n);
    } else {
      ctx2d.fillStyle = '#fff'; ctx2d.fillRect(0, 0, w, h);
      var idx = new Array(s.n), depth = new Float32Array(s.n), px = new Float32Array(s.n), py = new Float32Array(s.n);
      for (var i = 0; i < s.n; i++) {
        var x = s.xyz[3 * i], y = s.xyz[3 * i + 1], z = s.xyz[3 * i + 2];
        px[i] = (R[0] * x + R[1] * y + R[2] * z) * sx; py[i] = (R[3] * x + R[4] * y + R[5] * z) * sy;
        depth[i] = R[6] * x + R[7] * y + R[8] * z; idx[i] = i;
      }
      idx.sort(function (a, b) { return depth[a] - depth[b]; });
      var d = Math.max(2, 3 * view.zoom);
      for (var j = 0; j < s.n; j++) {
        var k = idx[j];
        ctx2d.fillStyle = 'rgb(' + s.rgb[3 * k] + ',' + s.rgb[3 * k + 1] + ',' + s.rgb[3 * k + 2] + ')';
        ctx2d.fillRect((px[k] + 1) * w / 2 - d / 2, (1 - py[k]) * h / 2 - d / 2, d, d);
      }
    }
    stamp();
  }
  // Count non-white pixels and a checksum of the frame, for headless checks.
  function stamp() {
    var w = canvas.width, h = canvas.height, px;
    if (gl) { px = new Uint8Array(w * h * 4); gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px); }
    else px = ctx2d.getImageData(0, 0, w, h).data;
    var lit = 0, sum = 0;
    for (var i = 0; i < px.length; i += 4) {
      if (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250) lit++;
      sum = (sum * 31 + px[i] + 3 * px[i + 1] + 7 * px[i + 2]) >>> 0;
    }
    canvas.setAttribute('data-lit-pixels', String(lit));
    canvas.setAttribute('data-checksum', String(sum));
    canvas.setAttribute('data-renderer', gl ? 'webgl' : '2d');
  }
  var pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  }
  var drag = null;
  canvas.addEventListener('pointerdown', function (e) { drag = [e.clientX, e.clientY]; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener('pointerup', function () { drag = null; });
  canvas.addEventListener('pointermove', function (e) {
    if (!drag) return;
    view.yaw += (e.clientX - drag[0]) * 0.01;
    view.pitch = Math.max(-1.57, Math.min(1.57, view.pitch + (e.clientY - drag[1]) * 0.01));
    drag = [e.clientX, e.clientY];
    redraw();
  });
  canvas.addEventListener('wheel', function (e) {
    e.preventDefault();
    view.zoom = Math.max(0.2, Math.min(8, view.zoom * Math.exp(-e.deltaY * 0.001)));
    redraw();
  }, { passive: false });
  canvas.addEventListener('dblclick', function () { view.yaw = 0.6; view.pitch = -0.45; view.zoom = 0.9; redraw(); });
  var sel = document.getElementById('view-select');
  if (sel) {
    scans.forEach(function (s, i) {
      var o = document.createElement('option'); o.value = String(i); o.textContent = s.name; sel.appendChild(o);
    });
    sel.addEventListener('change', function () { load(Number(sel.value)); });
  }
  window.po3adShowScan = function (i) { load(i); canvas.scrollIntoView({ behavior: 'smooth', block: 'center' }); };
  if (scans.length) load(0);
})();
