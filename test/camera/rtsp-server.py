#!/usr/bin/python3
# A real RTSP server for tests: GStreamer's gst-rtsp-server (Debian gir1.2-gst-rtsp-server-1.0)
# serving an H.264 test pattern on rtsp://127.0.0.1:PORT/cam. Usage: rtsp-server.py PORT [WxH]
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

port = sys.argv[1]
w, h = (sys.argv[2] if len(sys.argv) > 2 else '640x480').split('x')
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f'( videotestsrc is-live=true pattern=ball ! video/x-raw,width={w},height={h},framerate=10/1 '
    '! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 threads=1 ! rtph264pay name=pay0 pt=96 )'
)
factory.set_shared(True)
server.get_mount_points().add_factory('/cam', factory)
if server.attach(None) == 0:
    print('cannot listen', flush=True)
    sys.exit(1)
print(f'ready rtsp://127.0.0.1:{port}/cam', flush=True)
GLib.MainLoop().run()
